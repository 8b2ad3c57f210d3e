# The lab manifest, labs/labs.txt (its header says what each field means).
#
# csd_read_labs(FILE) reads it and sets in the caller's scope
#   CSD_LABS                       the ids of the ready labs, in course order
#   CSD_ALL_LABS                   every id, in course order
#   CSD_THREAD_LABS                the ready labs with `threads yes`
#   CSD_LAB_<FIELD>_<id>           each one-value field: STATUS TITLE DESIGN
#                                  REFERENCES SYSCALLS LIBRARY KIND WORKERS
#                                  THREADS HAMMER BENCH_ARGS BENCH_COUNT_ONLY
#                                  (KIND defaults to server, THREADS to no)
#   CSD_LAB_MODES_<id>             its mode names, the default first
#   CSD_LAB_MODE_ARGS_<id>_<mode>  the flags of a mode (a list)
#   CSD_LAB_MODE_CHECKS_<id>_<mode> the checks that run in it (a list)
#   CSD_LAB_VARIANTS_<id>, CSD_LAB_VARIANT_ARGS_<id>_<name>
#   CSD_LAB_BENCH_MODES_<id>, CSD_LAB_BENCH_MODE_ARGS_<id>_<name>
# and fails the configure step on a line it does not understand. CMake
# configures again when the file changes.

set(CSD_LAB_ONE_VALUE_FIELDS status title design references syscalls library kind workers
    threads hammer bench-args bench-count-only)

# _csd_lab_var(OUT FIELD): OUT = the variable suffix of FIELD (bench-args: BENCH_ARGS).
function(_csd_lab_var out field)
  string(TOUPPER "${field}" upper)
  string(REPLACE "-" "_" upper "${upper}")
  set(${out} ${upper} PARENT_SCOPE)
endfunction()

macro(_csd_lab_fail message)
  message(FATAL_ERROR "${file}:${number}: ${message}\n  ${line}")
endmacro()

function(csd_read_labs file)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${file})
  file(STRINGS ${file} lines)
  set(all "")
  set(ready "")
  set(threaded "")
  set(id "")
  set(number 0)
  set(set_vars "")  # every variable set, to hand to the caller
  foreach(line IN LISTS lines)
    math(EXPR number "${number} + 1")
    if(line MATCHES "^[ \t]*(#|$)")
      continue()
    endif()
    if(line MATCHES "^lab[ \t]+([a-z][a-z0-9-]*)[ \t]*$")
      set(id ${CMAKE_MATCH_1})
      if(id IN_LIST all)
        _csd_lab_fail("lab ${id} is declared twice")
      endif()
      list(APPEND all ${id})
      set(CSD_LAB_KIND_${id} server)
      set(CSD_LAB_THREADS_${id} no)
      set(CSD_LAB_MODES_${id} "")
      set(CSD_LAB_VARIANTS_${id} "")
      set(CSD_LAB_BENCH_MODES_${id} "")
      list(APPEND set_vars CSD_LAB_KIND_${id} CSD_LAB_THREADS_${id} CSD_LAB_MODES_${id}
           CSD_LAB_VARIANTS_${id} CSD_LAB_BENCH_MODES_${id})
      continue()
    endif()
    if(NOT line MATCHES "^[ \t]+([a-z-]+)[ \t]+(.+)$")
      _csd_lab_fail("not `lab ID` nor an indented `KEY VALUE` line")
    endif()
    if(id STREQUAL "")
      _csd_lab_fail("a field before the first `lab ID` line")
    endif()
    set(key ${CMAKE_MATCH_1})
    string(STRIP "${CMAKE_MATCH_2}" value)
    if(key IN_LIST CSD_LAB_ONE_VALUE_FIELDS)
      _csd_lab_var(var ${key})
      if(DEFINED seen_${var}_${id})
        _csd_lab_fail("${key} given twice for lab ${id}")
      endif()
      set(seen_${var}_${id} 1)
      if(key MATCHES "^(bench-args|hammer)$")
        separate_arguments(value UNIX_COMMAND "${value}")
      endif()
      set(CSD_LAB_${var}_${id} "${value}")
      list(APPEND set_vars CSD_LAB_${var}_${id})
    elseif(key STREQUAL "mode")
      # NAME [ARG...] [: CHECK...]
      string(FIND "${value}" ":" colon)
      set(checks "")
      if(colon GREATER -1)
        string(SUBSTRING "${value}" 0 ${colon} head)
        math(EXPR after "${colon} + 1")
        string(SUBSTRING "${value}" ${after} -1 tail)
        separate_arguments(checks UNIX_COMMAND "${tail}")
        set(value "${head}")
      endif()
      separate_arguments(words UNIX_COMMAND "${value}")
      list(POP_FRONT words name)
      if(NOT name MATCHES "^[a-z][a-z0-9-]*$")
        _csd_lab_fail("not a mode name: '${name}'")
      endif()
      if(CSD_LAB_MODES_${id} STREQUAL "" AND checks)
        _csd_lab_fail("the first mode is the default: it runs every check not named elsewhere")
      endif()
      if(NOT CSD_LAB_MODES_${id} STREQUAL "" AND NOT checks)
        _csd_lab_fail("mode ${name} runs no check (`mode NAME ARG... : CHECK...`)")
      endif()
      if(NOT CSD_LAB_MODES_${id} STREQUAL "" AND NOT words)
        _csd_lab_fail("mode ${name} has no flag that chooses it")
      endif()
      list(APPEND CSD_LAB_MODES_${id} ${name})
      set(CSD_LAB_MODE_ARGS_${id}_${name} ${words})
      set(CSD_LAB_MODE_CHECKS_${id}_${name} ${checks})
      list(APPEND set_vars CSD_LAB_MODE_ARGS_${id}_${name} CSD_LAB_MODE_CHECKS_${id}_${name})
    elseif(key MATCHES "^(variant|bench-mode)$")
      separate_arguments(words UNIX_COMMAND "${value}")
      list(POP_FRONT words name)
      if(NOT words)
        _csd_lab_fail("${key} ${name} has no flag that chooses it")
      endif()
      if(key STREQUAL "variant")
        list(APPEND CSD_LAB_VARIANTS_${id} ${name})
        set(CSD_LAB_VARIANT_ARGS_${id}_${name} ${words})
        list(APPEND set_vars CSD_LAB_VARIANT_ARGS_${id}_${name})
      else()
        list(APPEND CSD_LAB_BENCH_MODES_${id} ${name})
        set(CSD_LAB_BENCH_MODE_ARGS_${id}_${name} ${words})
        list(APPEND set_vars CSD_LAB_BENCH_MODE_ARGS_${id}_${name})
      endif()
    else()
      _csd_lab_fail("unknown field '${key}' (labs/labs.txt's header lists them)")
    endif()
  endforeach()
  foreach(lab IN LISTS all)
    if(NOT CSD_LAB_STATUS_${lab} MATCHES "^(ready|coming)$")
      message(FATAL_ERROR "${file}: lab ${lab}: status must be ready or coming")
    endif()
    foreach(field title library)
      _csd_lab_var(var ${field})
      if(NOT DEFINED CSD_LAB_${var}_${lab})
        message(FATAL_ERROR "${file}: lab ${lab} has no ${field}")
      endif()
    endforeach()
    if(NOT CSD_LAB_KIND_${lab} MATCHES "^(server|program)$")
      message(FATAL_ERROR "${file}: lab ${lab}: kind must be server or program")
    endif()
    if(NOT CSD_LAB_THREADS_${lab} MATCHES "^(yes|no)$")
      message(FATAL_ERROR "${file}: lab ${lab}: threads must be yes or no")
    endif()
    if(CSD_LAB_STATUS_${lab} STREQUAL "ready")
      list(APPEND ready ${lab})
      if(CSD_LAB_THREADS_${lab} STREQUAL "yes")
        list(APPEND threaded ${lab})
      endif()
    endif()
  endforeach()
  foreach(var IN LISTS set_vars)
    set(${var} "${${var}}" PARENT_SCOPE)
  endforeach()
  foreach(lab IN LISTS all)
    foreach(field IN LISTS CSD_LAB_ONE_VALUE_FIELDS)
      _csd_lab_var(var ${field})
      if(DEFINED CSD_LAB_${var}_${lab})
        set(CSD_LAB_${var}_${lab} "${CSD_LAB_${var}_${lab}}" PARENT_SCOPE)
      endif()
    endforeach()
  endforeach()
  set(CSD_LABS ${ready} PARENT_SCOPE)
  set(CSD_ALL_LABS ${all} PARENT_SCOPE)
  set(CSD_THREAD_LABS ${threaded} PARENT_SCOPE)
endfunction()

# _csd_cxx_string(OUT TEXT): OUT = TEXT as a C++ string literal.
function(_csd_cxx_string out text)
  string(REPLACE "\\" "\\\\" text "${text}")
  string(REPLACE "\"" "\\\"" text "${text}")
  set(${out} "\"${text}\"" PARENT_SCOPE)
endfunction()

# _csd_cxx_strings(OUT ITEM...): OUT = `{"a", "b"}`.
function(_csd_cxx_strings out)
  set(items "")
  foreach(item IN LISTS ARGN)
    _csd_cxx_string(quoted "${item}")
    list(APPEND items "${quoted}")
  endforeach()
  list(JOIN items ", " joined)
  set(${out} "{${joined}}" PARENT_SCOPE)
endfunction()

# _csd_cxx_modes(OUT LAB PREFIX NAMES...): OUT = `{{"name", {args}, {checks}}, ...}`
# for the modes (PREFIX MODE), variants (VARIANT) or bench modes (BENCH_MODE) of LAB.
function(_csd_cxx_modes out lab prefix)
  set(entries "")
  foreach(name IN LISTS ARGN)
    _csd_cxx_strings(args ${CSD_LAB_${prefix}_ARGS_${lab}_${name}})
    _csd_cxx_strings(checks ${CSD_LAB_${prefix}_CHECKS_${lab}_${name}})
    list(APPEND entries "{\"${name}\", ${args}, ${checks}}")
  endforeach()
  list(JOIN entries ", " joined)
  set(${out} "{${joined}}" PARENT_SCOPE)
endfunction()

# csd_write_labs_header(OUT): OUT declares csd::grade::course_labs(), every
# lab of the manifest with its fields, for the grader and csd-bench.
function(csd_write_labs_header out)
  set(entries "")
  foreach(id IN LISTS CSD_ALL_LABS)
    set(fields "")
    foreach(field title design references syscalls library)
      _csd_lab_var(var ${field})
      _csd_cxx_string(quoted "${CSD_LAB_${var}_${id}}")
      string(APPEND fields "         .${field} = ${quoted},\n")
    endforeach()
    if(CSD_LAB_STATUS_${id} STREQUAL "ready")
      set(ready true)
    else()
      set(ready false)
    endif()
    set(workers 0)
    if(DEFINED CSD_LAB_WORKERS_${id})
      set(workers ${CSD_LAB_WORKERS_${id}})
    endif()
    set(program false)
    if(CSD_LAB_KIND_${id} STREQUAL "program")
      set(program true)
    endif()
    set(threads false)
    if(CSD_LAB_THREADS_${id} STREQUAL "yes")
      set(threads true)
    endif()
    set(count_only false)
    if(CSD_LAB_BENCH_COUNT_ONLY_${id} STREQUAL "yes")
      set(count_only true)
    endif()
    _csd_cxx_modes(modes ${id} MODE ${CSD_LAB_MODES_${id}})
    _csd_cxx_modes(variants ${id} VARIANT ${CSD_LAB_VARIANTS_${id}})
    _csd_cxx_modes(bench_modes ${id} BENCH_MODE ${CSD_LAB_BENCH_MODES_${id}})
    _csd_cxx_strings(bench_args ${CSD_LAB_BENCH_ARGS_${id}})
    string(APPEND entries "        {.id = \"${id}\",\n${fields}"
           "         .ready = ${ready},\n"
           "         .program = ${program},\n"
           "         .workers = ${workers},\n"
           "         .threads = ${threads},\n"
           "         .modes = ${modes},\n"
           "         .variants = ${variants},\n"
           "         .bench_modes = ${bench_modes},\n"
           "         .bench_args = ${bench_args},\n"
           "         .bench_count_only = ${count_only}},\n")
  endforeach()
  set(text "#pragma once
/// @file course_labs.hpp
/// @brief GENERATED by cmake/Labs.cmake from labs/labs.txt: do not edit.
///
/// The lab manifest (labs/labs.txt, whose header says what each field
/// means) as a table. Immutable: any thread.

#include <string_view>
#include <vector>

namespace csd::grade {

/// A way to run a lab's server: a mode, a variant or a bench mode.
struct CourseMode {
    std::string_view name = {};                 ///< \"reuseport\".
    std::vector<std::string_view> args = {};    ///< The flags that choose it: -m reuseport.
    std::vector<std::string_view> checks = {};  ///< The checks that run in it (modes only).
};

/// One lab of labs/labs.txt.
struct CourseLab {
    std::string_view id;          ///< Lab id.
    std::string_view title;       ///< One-line title.
    std::string_view design;      ///< The design in a few words.
    std::string_view references;  ///< Where to read about it.
    std::string_view syscalls;    ///< What it exercises.
    std::string_view library;     ///< The part of the lab library it links.
    bool ready;                   ///< Status ready (else coming).
    bool program;                 ///< A program of contract section 6, not a server.
    int workers;                  ///< > 0: run with -n workers.
    bool threads;                 ///< Graded and hammered under ThreadSanitizer too.
    /// The modes the handout asks for, the default first (empty: one way only).
    std::vector<CourseMode> modes;
    std::vector<CourseMode> variants;     ///< The reference solution's other ways.
    std::vector<CourseMode> bench_modes;  ///< Modes csd-bench alone runs.
    std::vector<std::string_view> bench_args;  ///< csd-bench's extra flags.
    bool bench_count_only;                     ///< csd-bench counts bytes only.
};

/// Every lab of labs/labs.txt, in course order.
inline const std::vector<CourseLab> course_labs = {
${entries}};

}  // namespace csd::grade
")
  file(CONFIGURE OUTPUT ${out} CONTENT "${text}" @ONLY)
endfunction()

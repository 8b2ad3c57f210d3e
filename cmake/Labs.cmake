# The lab manifest, labs/labs.txt (its header says what each field means).
#
# csd_read_labs(FILE) reads it and sets in the caller's scope
#   CSD_LABS                       the ids of the ready labs, in course order
#   CSD_ALL_LABS                   every id, in course order
#   CSD_THREAD_LABS                the ready labs with `threads yes`
#   CSD_LAB_<FIELD>_<id>           each one-value field: STATUS TITLE DESIGN
#                                  REFERENCES SYSCALLS LIBRARY KIND WORKERS
#                                  THREADS HAMMER BENCH_ARGS BENCH_COUNT_ONLY CLOSE
#                                  (KIND defaults to server, THREADS to no)
#   CSD_LAB_CHECKS_<id>            its checks, in run order
#   CSD_LAB_CHECK_POINTS_<id>_<check>, CSD_LAB_CHECK_LESSON_<id>_<check>
#                                  a check's points in the lab; true for a lesson check
#   CSD_LAB_MODES_<id>             its mode names, the default first
#   CSD_LAB_MODE_ARGS_<id>_<mode>  the flags of a mode (a list)
#   CSD_LAB_MODE_CHECKS_<id>_<mode> the checks that run in it (a list)
#   CSD_LAB_VARIANTS_<id>, CSD_LAB_VARIANT_ARGS_<id>_<name>
#   CSD_LAB_BENCH_MODES_<id>, CSD_LAB_BENCH_MODE_ARGS_<id>_<name>
# and fails the configure step on a line it does not understand. CMake
# configures again when the file changes.

set(CSD_LAB_ONE_VALUE_FIELDS status title design references syscalls library kind workers
    threads hammer bench-args bench-count-only model wait eventpoll many fd-setsize thread-cap
    workers-max reply close requires lesson-share lesson-source leaderboard sanitizer-skips)

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
      set(CSD_LAB_CHECKS_${id} "")
      list(APPEND set_vars CSD_LAB_KIND_${id} CSD_LAB_THREADS_${id} CSD_LAB_MODES_${id}
           CSD_LAB_VARIANTS_${id} CSD_LAB_BENCH_MODES_${id} CSD_LAB_CHECKS_${id})
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
      if(key MATCHES "^(bench-args|hammer|wait|sanitizer-skips)$")
        separate_arguments(value UNIX_COMMAND "${value}")
      endif()
      set(CSD_LAB_${var}_${id} "${value}")
      list(APPEND set_vars CSD_LAB_${var}_${id})
    elseif(key STREQUAL "checks")
      # CHECK:POINTS[*]...; several lines add up.
      separate_arguments(words UNIX_COMMAND "${value}")
      foreach(word IN LISTS words)
        if(NOT word MATCHES "^([a-z][a-z0-9-]*):([0-9]+)(\\*?)$")
          _csd_lab_fail("not CHECK:POINTS or CHECK:POINTS*: '${word}'")
        endif()
        if(CMAKE_MATCH_1 IN_LIST CSD_LAB_CHECKS_${id})
          _csd_lab_fail("check ${CMAKE_MATCH_1} listed twice")
        endif()
        list(APPEND CSD_LAB_CHECKS_${id} ${CMAKE_MATCH_1})
        set(CSD_LAB_CHECK_POINTS_${id}_${CMAKE_MATCH_1} ${CMAKE_MATCH_2})
        set(lesson false)
        if(CMAKE_MATCH_3 STREQUAL "*")
          set(lesson true)
        endif()
        set(CSD_LAB_CHECK_LESSON_${id}_${CMAKE_MATCH_1} ${lesson})
        list(APPEND set_vars CSD_LAB_CHECK_POINTS_${id}_${CMAKE_MATCH_1}
             CSD_LAB_CHECK_LESSON_${id}_${CMAKE_MATCH_1})
      endforeach()
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
      # A program's checks run it themselves, in every mode (the modes check).
      if(NOT CSD_LAB_MODES_${id} STREQUAL "" AND NOT checks
         AND NOT "${CSD_LAB_KIND_${id}}" STREQUAL "program")
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
    foreach(field eventpoll fd-setsize)
      _csd_lab_var(var ${field})
      if(DEFINED CSD_LAB_${var}_${lab} AND NOT CSD_LAB_${var}_${lab} STREQUAL "yes")
        message(FATAL_ERROR "${file}: lab ${lab}: ${field} is yes or absent")
      endif()
    endforeach()
    foreach(field workers many thread-cap workers-max)
      _csd_lab_var(var ${field})
      if(DEFINED CSD_LAB_${var}_${lab} AND NOT CSD_LAB_${var}_${lab} MATCHES "^[1-9][0-9]*$")
        message(FATAL_ERROR "${file}: lab ${lab}: ${field} is a positive number")
      endif()
    endforeach()
    if(DEFINED CSD_LAB_REPLY_${lab} AND NOT CSD_LAB_REPLY_${lab} MATCHES "^(alphabet|header-line|served-file)$")
      message(FATAL_ERROR "${file}: lab ${lab}: reply is alphabet, header-line or served-file")
    endif()
    foreach(check IN LISTS CSD_LAB_SANITIZER_SKIPS_${lab})
      if(NOT check IN_LIST CSD_LAB_CHECKS_${lab})
        message(FATAL_ERROR "${file}: lab ${lab}: sanitizer-skips: ${check} is no check of the lab")
      endif()
    endforeach()
    if(DEFINED CSD_LAB_CLOSE_${lab} AND NOT CSD_LAB_CLOSE_${lab} MATCHES "^(fin|reset)$")
      message(FATAL_ERROR "${file}: lab ${lab}: close is fin or reset")
    endif()
    if(DEFINED CSD_LAB_REQUIRES_${lab} AND NOT CSD_LAB_REQUIRES_${lab} STREQUAL "io_uring")
      message(FATAL_ERROR "${file}: lab ${lab}: requires io_uring is the only requirement known")
    endif()
    if(CSD_LAB_STATUS_${lab} STREQUAL "ready" AND CSD_LAB_KIND_${lab} STREQUAL "server"
       AND NOT DEFINED CSD_LAB_MODEL_${lab})
      message(FATAL_ERROR "${file}: ready server lab ${lab} has no model")
    endif()
    if(NOT CSD_LAB_THREADS_${lab} MATCHES "^(yes|no)$")
      message(FATAL_ERROR "${file}: lab ${lab}: threads must be yes or no")
    endif()
    foreach(mode IN LISTS CSD_LAB_MODES_${lab})
      foreach(check IN LISTS CSD_LAB_MODE_CHECKS_${lab}_${mode})
        if(NOT check IN_LIST CSD_LAB_CHECKS_${lab})
          message(FATAL_ERROR "${file}: lab ${lab}: mode ${mode} runs ${check}, "
                              "which is not in its `checks`")
        endif()
      endforeach()
    endforeach()
    if(CSD_LAB_STATUS_${lab} STREQUAL "ready")
      if(NOT CSD_LAB_CHECKS_${lab})
        message(FATAL_ERROR "${file}: lab ${lab} is ready but has no `checks`")
      endif()
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
function(_csd_cxx_modes out lab prefix member)
  set(code "")
  foreach(name IN LISTS ARGN)
    _csd_cxx_strings(args ${CSD_LAB_${prefix}_ARGS_${lab}_${name}})
    _csd_cxx_strings(checks ${CSD_LAB_${prefix}_CHECKS_${lab}_${name}})
    string(APPEND code "        add_mode(lab.${member}, \"${name}\", ${args}, ${checks});\n")
  endforeach()
  set(${out} "${code}" PARENT_SCOPE)
endfunction()

# csd_write_labs_header(OUT): OUT (a .hpp) declares csd::grade::course_labs(),
# every lab of the manifest with its fields, for the grader and csd-bench;
# the .cpp beside it defines it (grader/grade/CMakeLists.txt compiles it).
function(csd_write_labs_header out)
  set(entries "")
  foreach(id IN LISTS CSD_ALL_LABS)
    set(code "        {\n            CourseLab& lab = labs.emplace_back();\n")
    string(APPEND code "            lab.id = \"${id}\";\n")
    foreach(field title design references syscalls library)
      _csd_lab_var(var ${field})
      _csd_cxx_string(quoted "${CSD_LAB_${var}_${id}}")
      string(APPEND code "            lab.${field} = ${quoted};\n")
    endforeach()
    if(CSD_LAB_STATUS_${id} STREQUAL "ready")
      string(APPEND code "            lab.ready = true;\n")
    endif()
    if(DEFINED CSD_LAB_WORKERS_${id})
      string(APPEND code "            lab.workers = ${CSD_LAB_WORKERS_${id}};\n")
    endif()
    if(CSD_LAB_KIND_${id} STREQUAL "program")
      string(APPEND code "            lab.program = true;\n")
    endif()
    if(CSD_LAB_THREADS_${id} STREQUAL "yes")
      string(APPEND code "            lab.threads = true;\n")
    endif()
    if(CSD_LAB_CLOSE_${id} STREQUAL "reset")
      string(APPEND code "            lab.close_reset = true;\n")
    endif()
    if(CSD_LAB_BENCH_COUNT_ONLY_${id} STREQUAL "yes")
      string(APPEND code "            lab.bench_count_only = true;\n")
    endif()
    foreach(field model reply requires)
      string(TOUPPER ${field} var)
      set(member ${field})
      if(field STREQUAL "requires")
        set(member needs)  # (a keyword in C++)
      endif()
      if(DEFINED CSD_LAB_${var}_${id})
        string(APPEND code "            lab.${member} = \"${CSD_LAB_${var}_${id}}\";\n")
      endif()
    endforeach()
    if(CSD_LAB_WAIT_${id})
      _csd_cxx_strings(wait ${CSD_LAB_WAIT_${id}})
      string(APPEND code "            lab.wait_calls = ${wait};\n")
    endif()
    if(DEFINED CSD_LAB_EVENTPOLL_${id})
      string(APPEND code "            lab.eventpoll = true;\n")
    endif()
    if(DEFINED CSD_LAB_FD_SETSIZE_${id})
      string(APPEND code "            lab.fd_setsize = true;\n")
    endif()
    if(DEFINED CSD_LAB_MANY_${id})
      string(APPEND code "            lab.many = ${CSD_LAB_MANY_${id}};\n")
    endif()
    if(DEFINED CSD_LAB_THREAD_CAP_${id})
      string(APPEND code "            lab.thread_cap = ${CSD_LAB_THREAD_CAP_${id}};\n")
    endif()
    if(DEFINED CSD_LAB_WORKERS_MAX_${id})
      string(APPEND code "            lab.workers_max = ${CSD_LAB_WORKERS_MAX_${id}};\n")
    endif()
    foreach(check IN LISTS CSD_LAB_CHECKS_${id})
      string(APPEND code "            add_check(lab, \"${check}\", ${CSD_LAB_CHECK_POINTS_${id}_${check}}, "
             "${CSD_LAB_CHECK_LESSON_${id}_${check}});\n")
    endforeach()
    _csd_cxx_modes(modes ${id} MODE modes ${CSD_LAB_MODES_${id}})
    _csd_cxx_modes(variants ${id} VARIANT variants ${CSD_LAB_VARIANTS_${id}})
    _csd_cxx_modes(bench_modes ${id} BENCH_MODE bench_modes ${CSD_LAB_BENCH_MODES_${id}})
    string(REPLACE "        add_mode" "            add_mode" modes "${modes}${variants}${bench_modes}")
    string(APPEND code "${modes}")
    if(CSD_LAB_BENCH_ARGS_${id})
      _csd_cxx_strings(bench_args ${CSD_LAB_BENCH_ARGS_${id}})
      string(APPEND code "            lab.bench_args = ${bench_args};\n")
    endif()
    string(APPEND code "        }\n")
    string(APPEND entries "${code}")
  endforeach()
  set(text "#pragma once
/// @file course_labs.hpp
/// @brief GENERATED by cmake/Labs.cmake from labs/labs.txt: do not edit.
///
/// The lab manifest (labs/labs.txt, whose header says what each field
/// means) as a table. Immutable after first use: any thread.

#include <string_view>
#include <vector>

namespace csd::grade {

/// A way to run a lab's server: a mode, a variant or a bench mode.
struct CourseMode {
    std::string_view name = {};                 ///< \"reuseport\".
    std::vector<std::string_view> args = {};    ///< The flags that choose it: -m reuseport.
    std::vector<std::string_view> checks = {};  ///< The checks that run in it (modes only).
};

/// One check of a lab, with its points there.
struct CourseCheck {
    std::string_view id;  ///< Check id.
    int points = 0;       ///< Its points in this lab (all or nothing).
    bool lesson = false;  ///< One of the lab's lesson checks.
};

/// One lab of labs/labs.txt.
struct CourseLab {
    std::string_view id = {};          ///< Lab id.
    std::string_view title = {};       ///< One-line title.
    std::string_view design = {};      ///< The design in a few words.
    std::string_view references = {};  ///< Where to read about it.
    std::string_view syscalls = {};    ///< What it exercises.
    std::string_view library = {};     ///< The part of the lab library it links.
    bool ready = false;                ///< Status ready (else coming).
    bool program = false;              ///< A program of contract section 6, not a server.
    int workers = 0;                   ///< > 0: run with -n workers.
    bool threads = false;              ///< Graded and hammered under ThreadSanitizer too.
    std::vector<CourseCheck> checks = {};  ///< Its checks in run order, with their points.
    /// The modes the handout asks for, the default first (empty: one way only).
    std::vector<CourseMode> modes = {};
    std::vector<CourseMode> variants = {};     ///< The reference solution's other ways.
    std::vector<CourseMode> bench_modes = {};  ///< Modes csd-bench alone runs.
    std::vector<std::string_view> bench_args = {};  ///< csd-bench's extra flags.
    bool bench_count_only = false;                  ///< csd-bench counts bytes only.
    bool close_reset = false;  ///< `close reset`: every connection ends with an RST.
    std::string_view model = {};     ///< The architecture model: event-loop.
    std::vector<std::string_view> wait_calls = {};  ///< syscall: the idle wait's calls.
    bool eventpoll = false;          ///< syscall: an epoll descriptor is required.
    int many = 0;                    ///< many: connections held at once.
    bool fd_setsize = false;         ///< many: the FD_SETSIZE refusal is checked too.
    int thread_cap = 0;              ///< cap: most connection threads at once.
    int workers_max = 0;             ///< > 0: the most -n allows (more: exit status 2).
    std::string_view reply = {};     ///< header-line, served-file; empty: the alphabet.
    std::string_view needs = {};     ///< `requires`: io_uring, skipped where unavailable.
};

/// Every lab of labs/labs.txt, in course order (course_labs.cpp, also
/// generated).
[[nodiscard]] const std::vector<CourseLab>& course_labs();

}  // namespace csd::grade
")
  # The table is filled one lab at a time, not from one nested braced list:
  # g++ 12 miscompiled that list (vectors of aggregates inside aggregates:
  # csd-grade crashed copying it), and this reads as easily.
  set(source "// GENERATED by cmake/Labs.cmake from labs/labs.txt: do not edit.
#include \"csd/grade/course_labs.hpp\"

#include <utility>

namespace csd::grade {
namespace {

void add_check(CourseLab& lab, std::string_view id, int points, bool lesson) {
    CourseCheck check;
    check.id = id;
    check.points = points;
    check.lesson = lesson;
    lab.checks.push_back(check);
}

void add_mode(std::vector<CourseMode>& to, std::string_view name,
              std::vector<std::string_view> args, std::vector<std::string_view> checks) {
    CourseMode mode;
    mode.name = name;
    mode.args = std::move(args);
    mode.checks = std::move(checks);
    to.push_back(std::move(mode));
}

std::vector<CourseLab> make_labs() {
    std::vector<CourseLab> labs;
${entries}    return labs;
}

}  // namespace

const std::vector<CourseLab>& course_labs() {
    static const std::vector<CourseLab> labs = make_labs();
    return labs;
}

}  // namespace csd::grade
")
  file(CONFIGURE OUTPUT ${out} CONTENT "${text}" @ONLY)
  string(REGEX REPLACE "[.]hpp$" ".cpp" out_cpp "${out}")
  file(CONFIGURE OUTPUT ${out_cpp} CONTENT "${source}" @ONLY)
endfunction()

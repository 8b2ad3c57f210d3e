# The project's warning set, and whether warnings are errors.
#
# CSD_WERROR (default OFF) makes every warning an error. The presets in
# CMakePresets.json and so CI (./csd test) turn it on, so no warning gets into
# the tree; a plain `cmake -S . -B b` leaves it off, so a student's newer
# compiler, with warnings this tree has never met, still builds the labs.
#
# Each flag is passed only when the compiler accepts it (g++ and clang++ do
# not know the same ones), tested once per build directory and cached.
option(CSD_WERROR "Treat compiler warnings as errors (the presets and CI turn it on)" OFF)

include(CheckCXXCompilerFlag)

set(_csd_wanted_warnings
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
    -Wnull-dereference -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
set(CSD_WARNINGS "")
foreach(_csd_flag IN LISTS _csd_wanted_warnings)
  string(MAKE_C_IDENTIFIER "CSD_CXX_HAS${_csd_flag}" _csd_var)
  check_cxx_compiler_flag(${_csd_flag} ${_csd_var})
  if(${_csd_var})
    list(APPEND CSD_WARNINGS ${_csd_flag})
  endif()
endforeach()
if(CSD_WERROR)
  list(APPEND CSD_WARNINGS -Werror)
endif()

# Student code (skeleton-LAB, a submission) gets the same warnings, shown but
# never errors, whatever CSD_WERROR says: a half-finished edit or a newer
# compiler must not stop a student's feedback loop. CSD_STUDENT_WERROR turns
# them into errors for a student who wants that. The course tree proves the
# untouched skeletons warning-free another way (csd_skeleton_program()).
option(CSD_STUDENT_WERROR "Treat warnings in the student's code (skeleton-LAB) as errors" OFF)
set(CSD_STUDENT_WARNINGS ${CSD_WARNINGS})
list(REMOVE_ITEM CSD_STUDENT_WARNINGS -Werror)
if(CSD_STUDENT_WERROR)
  list(APPEND CSD_STUDENT_WARNINGS -Werror)
endif()

# csd_warnings(TARGET): applies the project's warning set to TARGET.
function(csd_warnings target)
  target_compile_options(${target} PRIVATE ${CSD_WARNINGS})
endfunction()

# csd_student_warnings(TARGET): the warning set of student code to TARGET.
function(csd_student_warnings target)
  target_compile_options(${target} PRIVATE ${CSD_STUDENT_WARNINGS})
endfunction()

# csd_no_warnings(TARGET WARNING...): turns these warnings (names without the
# -W) off for TARGET, with the compilers that have them. Only for code that
# is unfinished by design, never to hide a bug.
function(csd_no_warnings target)
  foreach(warning IN LISTS ARGN)
    string(MAKE_C_IDENTIFIER "CSD_CXX_HAS-W${warning}" has_it)
    check_cxx_compiler_flag(-W${warning} ${has_it})
    if(${has_it})
      target_compile_options(${target} PRIVATE -Wno-${warning})
    endif()
  endforeach()
endfunction()

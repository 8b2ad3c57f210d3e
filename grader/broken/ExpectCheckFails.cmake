# cmake -DGRADE=csd-grade -DLAB=lab -DSERVER=path -DCHECK=id [-DCONTROL=id,id...]
#       -DJSON=file -P ExpectCheckFails.cmake
# Grades SERVER with CHECK and the CONTROL checks only, and fails unless
# csd-grade exits with status 1, CHECK is "failed" and every CONTROL check
# "passed" in the --json results.
# With CSD_NEEDS_PERF set in the environment (csd_needs_perf()), the check
# sees the flaw only through perf's system call tracepoints: where perf
# cannot record them, the test says so and is skipped.
include(${CMAKE_CURRENT_LIST_DIR}/../../cmake/GradeRun.cmake)
csd_require_vars(ExpectCheckFails.cmake GRADE LAB SERVER CHECK JSON)
if(DEFINED ENV{CSD_NEEDS_PERF})
  execute_process(COMMAND perf record -q -B -N -o ${JSON}.perf.data
                          -e syscalls:sys_enter_getppid -- true
                  RESULT_VARIABLE perf_status OUTPUT_QUIET ERROR_QUIET)
  file(REMOVE ${JSON}.perf.data)
  if(NOT perf_status EQUAL 0)
    message("perf cannot record system calls here: the check's perf witness is off, "
            "so this test is skipped")
    return()
  endif()
endif()
string(REPLACE "," ";" controls "${CONTROL}")
csd_grade(${LAB} ${SERVER} ${JSON} "${CHECK},${CONTROL}")
csd_require_below_full()
set(shown "${grade_shown}")

set(problems "")
if(NOT "${status_${CHECK}}" STREQUAL "failed")
  string(APPEND problems "\n  check ${CHECK}: expected \"failed\", got \"${status_${CHECK}}\"")
endif()
foreach(c IN LISTS controls)
  if(NOT "${status_${c}}" STREQUAL "passed")
    string(APPEND problems "\n  control check ${c}: expected \"passed\", got \"${status_${c}}\"")
  endif()
endforeach()
if(problems)
  message(FATAL_ERROR "csd-grade ${shown}:${problems}")
endif()
message(STATUS "${CHECK} failed and {${CONTROL}} passed, as expected")

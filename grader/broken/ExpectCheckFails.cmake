# cmake -DGRADE=csd-grade -DLAB=lab -DSERVER=path -DCHECK=id [-DCONTROL=id,id...]
#       -DJSON=file -P ExpectCheckFails.cmake
# Grades SERVER with CHECK and the CONTROL checks only, and fails unless
# csd-grade exits with status 1, CHECK is "failed" and every CONTROL check
# "passed" in the --json results.
include(${CMAKE_CURRENT_LIST_DIR}/../../cmake/GradeRun.cmake)
csd_require_vars(ExpectCheckFails.cmake GRADE LAB SERVER CHECK JSON)
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

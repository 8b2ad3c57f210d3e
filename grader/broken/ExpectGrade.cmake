# cmake -DGRADE=csd-grade -DLAB=lab -DSERVER=path -DEXPECT=status -DJSON=file
#       [-DCHECKS=id,id...] [-DSTATUS=id=verdict,...] [-DMARKER=file] -P ExpectGrade.cmake
# Grades SERVER as LAB (only the CHECKS when given) and fails unless
# csd-grade exits with status EXPECT, every check named in STATUS has that
# verdict ("passed", "failed", "skipped") in the --json results, and no
# process running SERVER is left afterwards. With MARKER, the file is
# removed first, passed to the server as $CSD_TEST_MARKER, and must exist
# afterwards (the server made it). With OUTPUT, csd-grade's report must match
# that regular expression.
include(${CMAKE_CURRENT_LIST_DIR}/../../cmake/GradeRun.cmake)
csd_require_vars(ExpectGrade.cmake GRADE LAB SERVER EXPECT JSON)
if(NOT DEFINED CHECKS)
  set(CHECKS "")
endif()
if(DEFINED MARKER AND NOT "${MARKER}" STREQUAL "")
  file(REMOVE ${MARKER})
  set(ENV{CSD_TEST_MARKER} ${MARKER})
endif()
string(RANDOM LENGTH 16 tag_value)
set(ENV{CSD_TEST_TAG} "${tag_value}")
set(tag "CSD_TEST_TAG=${tag_value}")
csd_grade(${LAB} ${SERVER} ${JSON} "${CHECKS}")
set(status ${grade_status})
set(shown "${grade_shown}")

set(problems "")
if(NOT "${status}" STREQUAL "${EXPECT}")
  string(APPEND problems "\n  exit status: expected ${EXPECT}, got '${status}'")
endif()
if(DEFINED OUTPUT AND NOT "${OUTPUT}" STREQUAL "" AND NOT "${grade_output}" MATCHES "${OUTPUT}")
  string(APPEND problems "\n  the report does not match \"${OUTPUT}\"")
endif()
if(DEFINED MARKER AND NOT "${MARKER}" STREQUAL "" AND NOT EXISTS ${MARKER})
  string(APPEND problems "\n  the server never made ${MARKER}")
endif()

if(grade_json STREQUAL "" AND STATUS)
  string(APPEND problems "\n  csd-grade wrote no ${JSON}")
endif()
string(REPLACE "," ";" expected "${STATUS}")
foreach(pair IN LISTS expected)
  string(REPLACE "=" ";" pair "${pair}")
  list(GET pair 0 id)
  list(GET pair 1 verdict)
  if(NOT "${status_${id}}" STREQUAL "${verdict}")
    string(APPEND problems "\n  check ${id}: expected \"${verdict}\", got \"${status_${id}}\"")
  endif()
endforeach()

# No process started by this csd-grade may outlive it: each inherited
# CSD_TEST_TAG from it (other tests may run the same server meanwhile).
execute_process(COMMAND env -u CSD_TEST_TAG sh -c
                        "grep -lsxz -- '${tag}' /proc/[0-9]*/environ"
                OUTPUT_VARIABLE left_files)
string(REPLACE "\n" ";" left_files "${left_files}")
foreach(file IN LISTS left_files)
  if(file STREQUAL "")
    continue()
  endif()
  string(REGEX REPLACE "^/proc/([0-9]+)/environ$" "\\1" pid "${file}")
  set(cmdline "")
  if(EXISTS /proc/${pid}/cmdline)
    file(STRINGS /proc/${pid}/cmdline cmdline)
    list(JOIN cmdline " " cmdline)
  endif()
  string(APPEND problems "\n  left running: pid ${pid} ${cmdline}")
endforeach()

if(problems)
  message(FATAL_ERROR "csd-grade ${shown}:${problems}")
endif()
message(STATUS "csd-grade ${shown}: exit status ${status}, verdicts {${STATUS}}, nothing left")

# cmake -DGRADE=csd-grade -DLAB=lab -DSERVER=path -DEXPECT=status -DJSON=file
#       [-DCHECKS=id,id...] [-DSTATUS=id=verdict,...] [-DMARKER=file] -P ExpectGrade.cmake
# Grades SERVER as LAB (only the CHECKS when given) and fails unless
# csd-grade exits with status EXPECT, every check named in STATUS has that
# verdict ("passed", "failed", "skipped") in the --json results, and no
# process running SERVER is left afterwards. With MARKER, the file is
# removed first, passed to the server as $CSD_TEST_MARKER, and must exist
# afterwards (the server made it).
foreach(var GRADE LAB SERVER EXPECT JSON)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "ExpectGrade.cmake: -D${var}=... is missing")
  endif()
endforeach()

set(args ${LAB} ${SERVER})
string(REPLACE "," ";" checks "${CHECKS}")
foreach(c IN LISTS checks)
  list(APPEND args --check ${c})
endforeach()
get_filename_component(json_dir ${JSON} DIRECTORY)
file(MAKE_DIRECTORY ${json_dir})
file(REMOVE ${JSON})
if(DEFINED MARKER AND NOT "${MARKER}" STREQUAL "")
  file(REMOVE ${MARKER})
  set(ENV{CSD_TEST_MARKER} ${MARKER})
endif()
list(JOIN args " " shown)
string(RANDOM LENGTH 16 tag_value)
set(ENV{CSD_TEST_TAG} "${tag_value}")
set(tag "CSD_TEST_TAG=${tag_value}")
execute_process(COMMAND ${GRADE} ${args} --json ${JSON}
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")

set(problems "")
if(NOT "${status}" STREQUAL "${EXPECT}")
  string(APPEND problems "\n  exit status: expected ${EXPECT}, got '${status}'")
endif()
if(DEFINED MARKER AND NOT "${MARKER}" STREQUAL "" AND NOT EXISTS ${MARKER})
  string(APPEND problems "\n  the server never made ${MARKER}")
endif()

if(EXISTS ${JSON})
  file(READ ${JSON} json)
  string(JSON count LENGTH "${json}" tests)
  math(EXPR last "${count} - 1")
  foreach(i RANGE ${last})
    string(JSON id GET "${json}" tests ${i} name)
    string(JSON verdict GET "${json}" tests ${i} status)
    set(status_${id} ${verdict})
  endforeach()
elseif(STATUS)
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

# cmake -DGRADE=csd-grade -DLAB=lab -DSERVER=path -DCHECK=id [-DCONTROL=id,id...]
#       -DJSON=file -P ExpectCheckFails.cmake
# Grades SERVER with CHECK and the CONTROL checks only, and fails unless
# csd-grade exits with status 1, CHECK is "failed" and every CONTROL check
# "passed" in the --json results.
foreach(var GRADE LAB SERVER CHECK JSON)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "ExpectCheckFails.cmake: -D${var}=... is missing")
  endif()
endforeach()
string(REPLACE "," ";" controls "${CONTROL}")

set(args ${LAB} ${SERVER} --check ${CHECK})
foreach(c IN LISTS controls)
  list(APPEND args --check ${c})
endforeach()
get_filename_component(json_dir ${JSON} DIRECTORY)
file(MAKE_DIRECTORY ${json_dir})
file(REMOVE ${JSON})
list(JOIN args " " shown)
execute_process(COMMAND ${GRADE} ${args} --json ${JSON}
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")

if(NOT "${status}" STREQUAL "1")
  message(FATAL_ERROR "expected csd-grade to exit with status 1 (below full score), got "
                      "'${status}' from: csd-grade ${shown}")
endif()
if(NOT EXISTS ${JSON})
  message(FATAL_ERROR "csd-grade wrote no ${JSON}")
endif()
file(READ ${JSON} json)

# The status of every check in the results, as status_<id>.
string(JSON count LENGTH "${json}" tests)
math(EXPR last "${count} - 1")
foreach(i RANGE ${last})
  string(JSON id GET "${json}" tests ${i} name)
  string(JSON verdict GET "${json}" tests ${i} status)
  set(status_${id} ${verdict})
endforeach()

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

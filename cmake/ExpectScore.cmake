# cmake -DGRADE=csd-grade -DLAB=lab -DSERVER=path -DMAX_PERCENT=N -DJSON=file
#       [-DCHECK=id,id...] -P ExpectScore.cmake
# Grades SERVER as LAB (every check, or only the CHECK ones) and fails unless
# csd-grade exits with status 1 (below full score) and the score in its
# --json results is at most MAX_PERCENT % of the lab's points: an untouched
# skeleton, or a server built another way than the lab asks, scores little.
foreach(var GRADE LAB SERVER MAX_PERCENT JSON)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "ExpectScore.cmake: -D${var}=... is missing")
  endif()
endforeach()

set(args ${LAB} ${SERVER})
if(DEFINED CHECK AND NOT "${CHECK}" STREQUAL "")
  string(REPLACE "," ";" checks "${CHECK}")
  foreach(c IN LISTS checks)
    list(APPEND args --check ${c})
  endforeach()
endif()
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
string(JSON score GET "${json}" score)
string(JSON max_score GET "${json}" max_score)
math(EXPR percent "100 * ${score} / ${max_score}")
math(EXPR over "100 * ${score} - ${MAX_PERCENT} * ${max_score}")
if(over GREATER 0)
  message(FATAL_ERROR "csd-grade ${shown}: scored ${score}/${max_score} (${percent} %), "
                      "more than ${MAX_PERCENT} %")
endif()
message(STATUS "scored ${score}/${max_score} (${percent} %), at most ${MAX_PERCENT} %, as expected")

# cmake -DGRADE=csd-grade -DLAB=lab -DSERVER=path -DMAX_PERCENT=N -DJSON=file
#       [-DCHECK=id,id...] -P ExpectScore.cmake
# Grades SERVER as LAB (every check, or only the CHECK ones) and fails unless
# csd-grade exits with status 1 (below full score) and the score in its
# --json results is at most MAX_PERCENT % of the lab's points: an untouched
# skeleton, or a server built another way than the lab asks, scores little.
include(${CMAKE_CURRENT_LIST_DIR}/GradeRun.cmake)
csd_require_vars(ExpectScore.cmake GRADE LAB SERVER MAX_PERCENT JSON)
if(NOT DEFINED CHECK)
  set(CHECK "")
endif()
csd_grade(${LAB} ${SERVER} ${JSON} "${CHECK}")
csd_require_below_full()
set(json "${grade_json}")
set(shown "${grade_shown}")
string(JSON score GET "${json}" score)
string(JSON max_score GET "${json}" max_score)
math(EXPR percent "100 * ${score} / ${max_score}")
math(EXPR over "100 * ${score} - ${MAX_PERCENT} * ${max_score}")
if(over GREATER 0)
  message(FATAL_ERROR "csd-grade ${shown}: scored ${score}/${max_score} (${percent} %), "
                      "more than ${MAX_PERCENT} %")
endif()
message(STATUS "scored ${score}/${max_score} (${percent} %), at most ${MAX_PERCENT} %, as expected")

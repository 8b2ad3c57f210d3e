# Shared by the scripts that run csd-grade in a test (cmake/ExpectScore.cmake,
# grader/broken/ExpectCheckFails.cmake, grader/broken/ExpectGrade.cmake).

# csd_require_vars(SCRIPT VAR...): fails unless every -DVAR=... was given.
macro(csd_require_vars script)
  foreach(_csd_var ${ARGN})
    if(NOT DEFINED ${_csd_var} OR "${${_csd_var}}" STREQUAL "")
      message(FATAL_ERROR "${script}: -D${_csd_var}=... is missing")
    endif()
  endforeach()
endmacro()

# csd_grade(LAB SERVER JSON CHECKS): runs `csd-grade LAB SERVER [--check ID]...
# --json JSON` (GRADE is csd-grade; CHECKS is "id,id..." or empty for every
# check), prints its output, and sets in the caller:
#   grade_status  its exit status
#   grade_shown   its arguments, for messages
#   grade_json    the --json results ("" when it wrote none)
#   grade_output  its report (stdout)
#   status_<id>   the verdict of each check in them ("passed", "failed",
#                 "skipped")
macro(csd_grade lab server json checks)
  set(_csd_args ${lab} ${server})
  string(REPLACE "," ";" _csd_checks "${checks}")
  foreach(_csd_c IN LISTS _csd_checks)
    if(NOT _csd_c STREQUAL "")
      list(APPEND _csd_args --check ${_csd_c})
    endif()
  endforeach()
  get_filename_component(_csd_dir ${json} DIRECTORY)
  file(MAKE_DIRECTORY ${_csd_dir})
  file(REMOVE ${json})
  list(JOIN _csd_args " " grade_shown)
  execute_process(COMMAND ${GRADE} ${_csd_args} --json ${json}
                  RESULT_VARIABLE grade_status OUTPUT_VARIABLE _csd_out ERROR_VARIABLE _csd_err)
  message("${_csd_out}${_csd_err}")
  set(grade_output "${_csd_out}")
  set(grade_json "")
  if(EXISTS ${json})
    file(READ ${json} grade_json)
    string(JSON _csd_count LENGTH "${grade_json}" tests)
    if(_csd_count GREATER 0)
      math(EXPR _csd_last "${_csd_count} - 1")
      foreach(_csd_i RANGE ${_csd_last})
        string(JSON _csd_id GET "${grade_json}" tests ${_csd_i} name)
        # A skipped check has no status (Gradescope knows none for it).
        string(JSON status_${_csd_id} ERROR_VARIABLE _csd_no_status
               GET "${grade_json}" tests ${_csd_i} status)
        if(_csd_no_status)
          set(status_${_csd_id} skipped)
        endif()
      endforeach()
    endif()
  endif()
endmacro()

# csd_require_below_full(): fails unless the last csd_grade() exited with
# status 1 (below full score) and wrote its results.
macro(csd_require_below_full)
  if(NOT "${grade_status}" STREQUAL "1")
    message(FATAL_ERROR "expected csd-grade to exit with status 1 (below full score), got "
                        "'${grade_status}' from: csd-grade ${grade_shown}")
  endif()
  if(grade_json STREQUAL "")
    message(FATAL_ERROR "csd-grade wrote no results file: csd-grade ${grade_shown}")
  endif()
endmacro()

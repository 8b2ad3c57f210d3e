# batch.build-submission (grader/batch/CMakeLists.txt): csd-build-submission
# builds a program lab from a checkout, builds despite warnings (no -Werror),
# refuses library code outside the lab's part, and says what is missing.
#   cmake -DBUILD_SUBMISSION=path -DWORK=dir -P BuildSubmission.cmake
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/empty)

# run(NAME EXPECTED_STATUS REGEX LAB SOURCE): REGEX must match stdout+stderr.
function(run name expected regex lab source)
  execute_process(COMMAND ${BUILD_SUBMISSION} ${lab} ${source} ${WORK}/${name}
                  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT status EQUAL expected OR NOT out MATCHES "${regex}")
    message(FATAL_ERROR "${name}: expected status ${expected} and output matching '${regex}', "
                        "got ${status}:\n${out}")
  endif()
  message(STATUS "${name}: status ${status} as expected")
endfunction()

# A checkout of the course: its skeletons/sigpipe/main.cpp (a program lab's
# source), not the server.cpp beside it (a small one: compiling is the cost).
file(WRITE ${WORK}/course/skeletons/sigpipe/main.cpp "#include \"csd/base.hpp\"\nint main() {}\n")
file(WRITE ${WORK}/course/skeletons/sigpipe/server.cpp "does not compile\n")
run(checkout 0 "submission-sigpipe" sigpipe ${WORK}/course)
if(NOT EXISTS ${WORK}/checkout/submission-sigpipe OR NOT EXISTS ${WORK}/checkout/build.log)
  message(FATAL_ERROR "checkout: no executable or build.log")
endif()

# Warnings are shown, never errors (a student's newer compiler may warn).
file(WRITE ${WORK}/warns.cpp "int main(int argc, char**) { unsigned n = argc; int unused; return static_cast<int>(n) - 1; }\n")
run(warnings 0 "submission-iterative" iterative ${WORK}/warns.cpp)
file(READ ${WORK}/warnings/build.log log)
if(NOT log MATCHES "warning")
  message(FATAL_ERROR "warnings: the compiler's warnings are not in build.log:\n${log}")
endif()

# The iterative lab links csd::lab_base only: serve_connection() is its lesson.
file(WRITE ${WORK}/lesson.cpp "#include \"csd/serve.hpp\"\nint main() { (void)csd::serve_connection(0); }\n")
run(lesson 1 "undefined reference[^\n]*serve_connection" iterative ${WORK}/lesson.cpp)
if(EXISTS ${WORK}/lesson/submission-iterative)
  message(FATAL_ERROR "lesson: an executable was left although it did not build")
endif()

run(missing 1 "no server[.]cpp in" iterative ${WORK}/empty)
run(nothing 1 "no such file or directory" iterative ${WORK}/nothing-here)
run(usage 2 "unknown lab 'nosuchlab'" nosuchlab ${WORK}/empty)

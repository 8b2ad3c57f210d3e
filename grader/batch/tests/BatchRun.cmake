# batch.iterative (grader/batch/CMakeLists.txt): grades a folder of four
# submissions with csd-batch --jobs 2 and checks the summaries.
#   cmake -DBATCH=csd-batch -DSOLUTION=... -DSKELETON=... -DHOSTILE=... -DWORK=dir -P BatchRun.cmake
file(REMOVE_RECURSE ${WORK})
set(subs ${WORK}/submissions)
file(MAKE_DIRECTORY ${subs}/solution ${subs}/skeleton/skeletons/iterative)
file(COPY ${SOLUTION} DESTINATION ${subs}/solution)                          # a directory with server.cpp
file(COPY ${SKELETON} DESTINATION ${subs}/skeleton/skeletons/iterative)      # a checkout of the course
file(WRITE ${subs}/broken.cpp "int main() { return undeclared_name; }\n")  # does not compile
configure_file(${HOSTILE} ${subs}/hostile.cpp COPYONLY)                     # never listens, leaves daemons
file(WRITE ${subs}/notes.txt "not a submission\n")

execute_process(
  COMMAND ${BATCH} iterative ${subs} --jobs 2 --out ${WORK}/out --check pipeline --check malformed
  RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
message("${output}")
if(NOT status EQUAL 0)
  message(FATAL_ERROR "csd-batch exited with ${status}")
endif()

# Nothing of the batch is left running: every process of it has WORK in its
# command line (the graded programs are WORK/out/students/NAME/submission-iterative).
execute_process(COMMAND pgrep -a -f ${WORK}/ RESULT_VARIABLE found OUTPUT_VARIABLE left)
if(found EQUAL 0)
  message(FATAL_ERROR "processes left running after csd-batch:\n${left}")
endif()

file(STRINGS ${WORK}/out/summary.csv csv)
list(LENGTH csv lines)
list(GET csv 0 header)
if(NOT lines EQUAL 5 OR NOT header STREQUAL "student,status,score,max_score,start,pipeline,malformed,seconds")
  message(FATAL_ERROR "summary.csv: expected the header and 4 rows:\n${csv}")
endif()

file(READ ${WORK}/out/summary.json json)
string(JSON max GET "${json}" max_score)
string(JSON count LENGTH "${json}" students)
if(NOT max EQUAL 25 OR NOT count EQUAL 4)
  message(FATAL_ERROR "summary.json: expected 4 students and max_score 25:\n${json}")
endif()
# student -> "status score" as the JSON and the CSV say (they must agree).
math(EXPR last "${count} - 1")
foreach(i RANGE ${last})
  string(JSON name GET "${json}" students ${i} student)
  string(JSON st GET "${json}" students ${i} status)
  string(JSON score GET "${json}" students ${i} score)
  set(got_${name} "${st} ${score}")
  math(EXPR row "${i} + 1")
  list(GET csv ${row} line)
  if(NOT line MATCHES "^${name},${st},${score},25,")
    message(FATAL_ERROR "summary.csv row '${line}' disagrees with summary.json (${name} ${st} ${score})")
  endif()
endforeach()

function(expect name status min max)
  if(NOT DEFINED got_${name})
    message(FATAL_ERROR "no result for ${name}")
  endif()
  separate_arguments(got UNIX_COMMAND "${got_${name}}")
  list(GET got 0 st)
  list(GET got 1 score)
  if(NOT st STREQUAL status OR score LESS min OR score GREATER max)
    message(FATAL_ERROR "${name}: expected ${status} with a score from ${min} to ${max}, got ${st} ${score}")
  endif()
endfunction()
expect(solution built 25 25)    # full marks
expect(skeleton built 0 6)      # at most 25 %
expect(hostile built 0 6)       # graded low, not an error
expect(broken build-error 0 0)

# The build error's log has the compiler's error.
file(READ ${WORK}/out/students/broken/build.log log)
if(NOT log MATCHES "undeclared_name" OR NOT log MATCHES "error")
  message(FATAL_ERROR "build.log of broken lacks the compiler's error:\n${log}")
endif()
string(JSON message GET "${json}" students 0 message)
if(NOT message MATCHES "error.*undeclared_name")
  message(FATAL_ERROR "summary.json: the build error's message is '${message}'")
endif()
foreach(name solution skeleton hostile)
  if(NOT EXISTS ${WORK}/out/students/${name}/results.json OR
     NOT EXISTS ${WORK}/out/students/${name}/grade.log)
    message(FATAL_ERROR "no results.json or grade.log for ${name}")
  endif()
endforeach()
message(STATUS "batch: ${got_solution} / ${got_skeleton} / ${got_hostile} / ${got_broken}: as expected")

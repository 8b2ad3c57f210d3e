# Which grader tests must not run at the same time when ctest runs tests in
# parallel. CI runs on 2 cores. The default preset runs 6 tests at once:
# a grading test mostly waits (for replies, deadlines, a server's stop),
# using 10 to 35 % of a core over its run (measured with time(1) on the
# solutions and skeletons), so two at a time left the cores idle most of
# the suite, and four still left them 55 % idle (/proc/stat); at six the
# default phase's tests took 599 s instead of 731 s, the cores still 47 %
# idle, with no failure. The sanitizer presets, whose servers run several
# times slower, keep 2.
#
# A test that runs csd-grade calls csd_test_runs_checks(); the test then
# gets CSD_LOCK_DIR in its environment, and csd-grade holds the locks of
# each check while that check runs (an flock(2) on CSD_LOCK_DIR/LOCK.lock,
# check_locks.hpp; every check declares its locks in the grader's table of
# checks, grader/grade/registry.cpp), so no two heavy checks that share a
# lock run at once, while light checks and other tests (unit, sync, docs)
# run alongside. A test that is not a grader and keeps the cores busy for a
# few seconds (the fuzzer, the trace tests, the herd smoke test) holds the
# cpu lock for its whole run through csd_flock_command(); one that keeps
# them busy for a minute or more cannot hold it (a grading test that waited
# that long for its check's lock would reach its own timeout). Such a test
# whose results do not depend on time (the release build, the docs build,
# the browser) runs beside the others at the lowest priority
# (csd_background_command(): nice 19, so it takes only the CPU the tests
# leave idle, and a check's server, at the normal priority, does not wait
# for it); one that measures (the handouts' experiments, the benchmark
# smoke test) runs alone (csd_test_runs_alone()). The locks, by what a
# check needs or measures:
#
#   connections      thousands of sockets at once (many, load, fd-leak, cap).
#                    Two at once can run out of ephemeral ports, descriptors
#                    or listen backlog, so a correct server would be failed.
#   cpu              checks that keep both cores busy (many, load, fd-leak,
#                    bytes), and checks that measure the server's CPU or
#                    wakeups while they load it, or give it a short deadline
#                    (syscall, concurrency, slow-reader, ...): next to a busy
#                    check their figures and deadlines would measure the
#                    other test. idle-cpu has none: it watches an idle
#                    server's own CPU time and wakeups, which a neighbour
#                    does not change, for 4.5 s.

# csd_test_runs_checks(TEST CHECK...): TEST runs csd-grade with these checks
# (ALL: every check of its lab): it gets CSD_LOCK_DIR, and csd-grade takes
# each check's locks while it runs.
function(csd_test_runs_checks test)
  # The grader takes the locks itself, check by check (flock(2) on
  # CSD_LOCK_DIR/LOCK.lock: grader/grade/check_locks.hpp, the mechanism of
  # csd-batch), so two grading tests overlap except while both would run a
  # heavy check. A test-long RESOURCE_LOCK would keep a whole lab's grading
  # away from every other one for all its light checks too.
  set_property(TEST ${test} APPEND PROPERTY ENVIRONMENT "CSD_LOCK_DIR=${CSD_TEST_LOCK_DIR}")
endfunction()

# The lock directory of this build's tests.
set(CSD_TEST_LOCK_DIR ${CMAKE_BINARY_DIR}/test-locks)
file(MAKE_DIRECTORY ${CSD_TEST_LOCK_DIR})
find_program(CSD_FLOCK flock)
# csd_flock_command(OUT LOCK): sets OUT to the command prefix that runs a
# command holding LOCK (nothing when flock(1) is missing: no locking).
function(csd_flock_command out lock)
  if(CSD_FLOCK)
    set(${out} ${CSD_FLOCK} ${CSD_TEST_LOCK_DIR}/${lock}.lock PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

# csd_background_command(OUT): sets OUT to the command prefix that runs a
# command at the lowest CPU priority (nothing when nice(1) is missing). For
# a test that keeps the cores busy for a minute or more and measures
# nothing: it fills the CPU the other tests leave idle (they are 47 % idle
# at six at once, above) instead of running alone. When it ran alone
# (RUN_SERIAL) the release build, the docs build and the browser took
# 2 to 3 minutes of the default phase in which nothing else ran.
find_program(CSD_NICE nice)
function(csd_background_command out)
  if(CSD_NICE)
    set(${out} ${CSD_NICE} -n 19 PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

# csd_test_runs_alone(TEST...): each TEST keeps both cores busy for a
# minute or so and measures what it runs: it runs with no other test
# beside it (RUN_SERIAL). ctest does not stop the parallel tests to make
# room for one: it starts it when nothing else runs, at the end.
function(csd_test_runs_alone)
  set_tests_properties(${ARGN} PROPERTIES RUN_SERIAL TRUE)
endfunction()

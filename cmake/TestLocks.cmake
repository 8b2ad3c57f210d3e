# Which grader tests must not run at the same time when ctest runs tests in
# parallel (the presets say -j2, and CI runs that on 2 cores).
#
# A test that runs csd-grade declares the checks it runs with
# csd_test_runs_checks(); the test then gets CSD_LOCK_DIR in its environment,
# and csd-grade holds the locks of each check while that check runs (an
# flock(2) on CSD_LOCK_DIR/LOCK.lock, check_locks.hpp; the same table
# builds csd-grade's), so no two heavy checks that share a lock run at once,
# while light checks and other tests (unit, sync, docs) run alongside. A test
# that is not a grader and keeps the cores busy (a build, the browser, a
# benchmark, the fuzzer) holds the cpu lock for its whole run through
# csd_flock_command(). The locks, by what a check needs or measures:
#
#   connections      thousands of sockets at once (many: up to 10,000 held
#                    connections; load: 1,000 in 5 client processes). Two at
#                    once can run out of ephemeral ports, descriptors or
#                    listen backlog, so a correct server would be failed.
#   cpu              checks that keep both cores busy (many, load, fd-leak,
#                    bytes), and
#                    checks that measure the server's CPU or wakeups or give it
#                    a 1 s deadline (idle-cpu, syscall, concurrency,
#                    slow-reader): next to a busy check their figures and
#                    deadlines would measure the other test.
#
# A new check that needs a lock gets a line in the table below (check name,
# then its locks); checks not listed need none.
set(CSD_CHECK_LOCKS_many connections cpu)
set(CSD_CHECK_LOCKS_load connections cpu)
set(CSD_CHECK_LOCKS_idle-cpu cpu)
set(CSD_CHECK_LOCKS_syscall cpu)
set(CSD_CHECK_LOCKS_concurrency cpu)
set(CSD_CHECK_LOCKS_slow-reader cpu)
# fd-leak makes 2,000 short connections with csd-client; bytes moves 1 GiB and
# paces a narrow-window reader; back-pressure measures memory with a 1 s deadline.
set(CSD_CHECK_LOCKS_fd-leak connections cpu)
set(CSD_CHECK_LOCKS_bytes cpu)
set(CSD_CHECK_LOCKS_back-pressure cpu)
# prefork: stalled gives the N-th client a 2 s deadline; replace kills a
# worker under load and gives the pool 2 s to be whole again.
set(CSD_CHECK_LOCKS_stalled cpu)
set(CSD_CHECK_LOCKS_replace cpu)
# cork: uncork measures the time of each small reply against 100 ms.
set(CSD_CHECK_LOCKS_uncork cpu)
# thread: cap holds 400 connections and 256 server threads, gives the cap 5 s
# to be reached and the clients beyond it 10 s to be served.
set(CSD_CHECK_LOCKS_cap connections cpu)
# sendfile: zero-copy moves 56 MiB under strace, which stops the server at
# every system call.
set(CSD_CHECK_LOCKS_zero-copy cpu)
# reactor: stalled-loops gives each client a 2 s deadline next to stalled
# 64 MiB replies; spread holds 40 connections and counts each loop's wakeups.
set(CSD_CHECK_LOCKS_stalled-loops cpu)
# uring: ring-io serves 31 clients (one a 4 MiB reply) under strace.
set(CSD_CHECK_LOCKS_ring-io cpu)

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
# selfpipe: signals and race-window give each of hundreds of fresh processes
# 100 ms to answer; idle-wakeups counts the program's wakeups for 1 s.
set(CSD_CHECK_LOCKS_signals cpu)
set(CSD_CHECK_LOCKS_race-window cpu)
set(CSD_CHECK_LOCKS_idle-wakeups cpu)

# Which grader tests must not run at the same time when ctest runs tests in
# parallel (the presets say -j2, and CI runs that on 2 cores).
#
# A test that runs csd-grade declares the checks it runs with
# csd_test_runs_checks(); the test then holds the CTest RESOURCE_LOCKs of
# those checks, so ctest never starts it while another test holds one of the
# same locks. Other tests (unit, sync, docs, light checks) still run
# alongside. The locks, by what a check needs or measures:
#
#   csd.connections  thousands of sockets at once (many: up to 10,000 held
#                    connections; load: 1,000 in 5 client processes). Two at
#                    once can run out of ephemeral ports, descriptors or
#                    listen backlog, so a correct server would be failed.
#   csd.cpu          checks that keep both cores busy (many, load, fd-leak,
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
# (ALL: every check of its lab); it gets their locks (csd.NAME). Call it in
# the directory that added TEST.
function(csd_test_runs_checks test)
  set(locks "")
  foreach(check IN LISTS ARGN)
    if(check STREQUAL "ALL")
      # Every lock of the table.
      get_cmake_property(variables VARIABLES)
      foreach(variable IN LISTS variables)
        if(variable MATCHES "^CSD_CHECK_LOCKS_")
          list(APPEND locks ${${variable}})
        endif()
      endforeach()
    else()
      list(APPEND locks ${CSD_CHECK_LOCKS_${check}})
    endif()
  endforeach()
  if(locks)
    list(REMOVE_DUPLICATES locks)
    list(TRANSFORM locks PREPEND "csd.")
    set_property(TEST ${test} APPEND PROPERTY RESOURCE_LOCK ${locks})
  endif()
endfunction()
# selfpipe: signals and race-window give each of hundreds of fresh processes
# 100 ms to answer; idle-wakeups counts the program's wakeups for 1 s.
set(CSD_CHECK_LOCKS_signals cpu)
set(CSD_CHECK_LOCKS_race-window cpu)
set(CSD_CHECK_LOCKS_idle-wakeups cpu)

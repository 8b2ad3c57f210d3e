# The lab servers are linked statically (CSD_STATIC_LABS, on by default):
# a server that forks pays for copying its address space, and a static
# program has a few mappings where a dynamic one has forty (ld.so, libc,
# libstdc++, libm, libgcc_s, each with its relocated pages to copy on
# write). Measured (issue 24, the fork lab's handout, "Going further"): a
# fork solution linked -static costs about a third less server CPU per
# connection than the same object file linked dynamically, and is as cheap
# as a minimal C fork server.
#
# Not under a sanitizer (ASan and TSan need their shared runtimes), and only
# where a static C and C++ runtime is installed (Debian's libc6-dev and
# libstdc++-12-dev ship them): the check below links a small program
# -static first, so that a machine without them still builds, dynamically.
option(CSD_STATIC_LABS "Link the lab servers (solution-LAB, skeleton-LAB) statically" ON)

set(csd_static_labs OFF)
if(CSD_STATIC_LABS AND NOT CSD_SANITIZE)
  include(CheckCXXSourceCompiles)
  set(CMAKE_REQUIRED_LINK_OPTIONS -static -pthread)
  check_cxx_source_compiles([[
#include <sys/socket.h>
#include <thread>
int main() {
    std::thread t([] {});
    t.join();
    return ::socket(AF_INET, SOCK_STREAM, 0) < 0;
}
]] CSD_CAN_LINK_STATIC)
  unset(CMAKE_REQUIRED_LINK_OPTIONS)
  if(CSD_CAN_LINK_STATIC)
    set(csd_static_labs ON)
  else()
    message(STATUS "csdesign: no static C/C++ runtime; the lab servers are linked dynamically")
  endif()
endif()

# csd_lab_linking(TARGET LIBRARY): links the lab server TARGET, which links
# the lab library part LIBRARY, statically when the build can (see above)
# and LIBRARY has no shared-only dependency (labs/lib/CMakeLists.txt: the
# uring part without liburing's archive).
function(csd_lab_linking target library)
  get_property(dynamic GLOBAL PROPERTY CSD_DYNAMIC_LIBRARIES)
  if(csd_static_labs AND NOT library IN_LIST dynamic)
    target_link_options(${target} PRIVATE -static)
  endif()
endfunction()

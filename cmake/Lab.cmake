# csd_add_lab(LAB): the programs, targets and tests of one lab.
#
#   solution-LAB        built from solutions/LAB/*.cpp (the marked single source)
#   skeleton-LAB        built from skeletons/LAB/*.cpp (generated, what students edit)
#   grade-LAB           builds and grades skeleton-LAB   (cmake --build build --target grade-fork)
#   grade-solution-LAB  builds and grades solution-LAB
#   skeletons           regenerates every skeleton from its solution
# Tests (labels: LAB plus solution | skeleton | sync):
#   solution.LAB  the reference gets full marks
#   skeleton.LAB  the untouched skeleton builds and scores below full (exit status 1)
#   sync.LAB      skeletons/LAB is exactly what solutions/LAB generates

if(NOT TARGET skeletons)
  add_custom_target(skeletons COMMENT "Regenerating skeletons/ from solutions/")
endif()

function(csd_add_lab lab)
  set(sol_dir ${PROJECT_SOURCE_DIR}/solutions/${lab})
  set(skel_dir ${PROJECT_SOURCE_DIR}/skeletons/${lab})
  file(GLOB sol_sources CONFIGURE_DEPENDS ${sol_dir}/*.cpp)
  file(GLOB sol_headers CONFIGURE_DEPENDS ${sol_dir}/*.hpp)
  if(NOT sol_sources)
    message(FATAL_ERROR "lab ${lab}: no sources in ${sol_dir}")
  endif()

  add_executable(solution-${lab} ${sol_sources})
  target_link_libraries(solution-${lab} PRIVATE csd::lab)
  csd_warnings(solution-${lab})

  set(skel_sources "")
  foreach(src IN LISTS sol_sources sol_headers)
    get_filename_component(name ${src} NAME)
    list(APPEND skel_sources ${skel_dir}/${name})
    add_custom_command(TARGET skeletons POST_BUILD
      COMMAND skelgen ${src} ${skel_dir}/${name}
      COMMENT "skeletons/${lab}/${name}")
    if(CSD_BUILD_TESTS)
      add_test(NAME sync.${lab}.${name} COMMAND skelgen --check ${src} ${skel_dir}/${name})
      set_tests_properties(sync.${lab}.${name} PROPERTIES LABELS "sync;${lab}")
    endif()
  endforeach()
  add_dependencies(skeletons skelgen)
  list(FILTER skel_sources INCLUDE REGEX "\\.cpp$")
  foreach(src IN LISTS skel_sources)
    if(NOT EXISTS ${src})
      # A new lab: its skeleton is made by the `skeletons` target, then reconfigure.
      message(WARNING "lab ${lab}: ${src} does not exist yet; build the target `skeletons`")
      return()
    endif()
  endforeach()
  add_executable(skeleton-${lab} ${skel_sources})
  target_link_libraries(skeleton-${lab} PRIVATE csd::lab)
  csd_warnings(skeleton-${lab})
  # A skeleton is unfinished by design: it declares the fields and constants
  # the student's code will use (clang++ warns that they are unused, g++ not).
  csd_no_warnings(skeleton-${lab} unused-private-field unused-const-variable)

  add_custom_target(grade-${lab}
    COMMAND csd-grade ${lab} $<TARGET_FILE:skeleton-${lab}>
    DEPENDS csd-grade csd-client skeleton-${lab}
    USES_TERMINAL
    COMMENT "Grading your skeleton-${lab}")
  add_custom_target(grade-solution-${lab}
    COMMAND csd-grade ${lab} $<TARGET_FILE:solution-${lab}>
    DEPENDS csd-grade csd-client solution-${lab}
    USES_TERMINAL
    COMMENT "Grading the reference solution-${lab}")

  if(CSD_BUILD_TESTS)
    file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/results)
    add_test(NAME solution.${lab}
      COMMAND csd-grade ${lab} $<TARGET_FILE:solution-${lab}>
              --json ${CMAKE_BINARY_DIR}/results/solution-${lab}.json)
    set_tests_properties(solution.${lab} PROPERTIES LABELS "solution;${lab}" TIMEOUT 180)
    csd_test_runs_checks(solution.${lab} ALL)
    add_test(NAME skeleton.${lab}
      COMMAND ${CMAKE_COMMAND} -DEXPECT=1 -P ${PROJECT_SOURCE_DIR}/cmake/RunExpect.cmake --
              $<TARGET_FILE:csd-grade> ${lab} $<TARGET_FILE:skeleton-${lab}>)
    set_tests_properties(skeleton.${lab} PROPERTIES LABELS "skeleton;${lab}" TIMEOUT 180)
    csd_test_runs_checks(skeleton.${lab} ALL)
  endif()
endfunction()

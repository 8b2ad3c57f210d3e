# csd_add_lab(LAB [LIBRARY PART]): the programs, targets and tests of one lab.
# PART is the part of the lab library the lab links (labs/lib/CMakeLists.txt),
# csd::lab (all of it) by default: a lab must not be able to call the library
# code that is its own lesson, e.g. csd_add_lab(iterative LIBRARY csd::lab_base).
#
#   solution-LAB        built from solutions/LAB/*.cpp (the marked single source)
#   skeleton-LAB        built from skeletons/LAB/*.cpp (generated, what students edit)
#   grade-LAB           builds and grades skeleton-LAB   (cmake --build build --target grade-fork)
#   grade-solution-LAB  builds and grades solution-LAB
#   skeletons           regenerates every skeleton from its solution
# Tests (labels: LAB plus solution | skeleton | sync):
#   solution.LAB  the reference gets full marks
#   skeleton.LAB  the untouched skeleton builds and scores at most 25 % of the lab
#   sync.LAB      skeletons/LAB is exactly what solutions/LAB generates
#   snippets.LAB  each C++ block of labs/LAB/handout.md compiles under the
#                 project's warnings (blocks marked <!-- snippet: compile -->)
#                 or is an excerpt of the solution (tools/snippets.cpp)
#
# In the student release (./csd release: no solutions/ directory) a lab is its
# skeleton alone: skeleton-LAB and grade-LAB, no solution, no test.

if(NOT TARGET skeletons)
  add_custom_target(skeletons COMMENT "Regenerating skeletons/ from solutions/")
endif()

# csd_skeleton_program(LAB LIBRARY SOURCE...): the program skeleton-LAB and
# the target grade-LAB that grades it.
function(csd_skeleton_program lab library)
  add_executable(skeleton-${lab} ${ARGN})
  target_link_libraries(skeleton-${lab} PRIVATE ${library})
  csd_lab_linking(skeleton-${lab} ${library})
  # The student's code: warnings shown, not errors (cmake/Warnings.cmake), so
  # ./csd grade, csd-batch and Gradescope build it alike.
  csd_student_warnings(skeleton-${lab})
  # A skeleton is unfinished by design: it declares the fields and constants
  # the student's code will use (clang++ warns that they are unused, g++ not).
  csd_no_warnings(skeleton-${lab} unused-private-field unused-const-variable)
  if(CSD_WERROR AND IS_DIRECTORY ${PROJECT_SOURCE_DIR}/solutions)
    # The course tree (not the student release): the untouched skeleton must
    # build warning-free, so its sources are compiled once more with the
    # project's -Werror (skeleton-LAB.strict, built by every build of CI).
    add_library(skeleton-${lab}.strict OBJECT ${ARGN})
    target_link_libraries(skeleton-${lab}.strict PRIVATE ${library})
    csd_warnings(skeleton-${lab}.strict)
    csd_no_warnings(skeleton-${lab}.strict unused-private-field unused-const-variable)
    csd_core_program(skeleton-${lab}.strict)
  endif()
  add_custom_target(grade-${lab}
    COMMAND csd-grade ${lab} $<TARGET_FILE:skeleton-${lab}>
    DEPENDS csd-grade csd-client skeleton-${lab}
    USES_TERMINAL
    COMMENT "Grading your skeleton-${lab}")
endfunction()

# csd_add_student_lab(LAB PART): the student release's skeleton-LAB and grade-LAB.
function(csd_add_student_lab lab library)
  file(GLOB skel_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/skeletons/${lab}/*.cpp)
  if(NOT skel_sources)
    message(FATAL_ERROR "lab ${lab}: no sources in skeletons/${lab}")
  endif()
  csd_skeleton_program(${lab} ${library} ${skel_sources})
endfunction()

function(csd_add_lab lab)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "LIBRARY" "")
  if(NOT arg_LIBRARY)
    set(arg_LIBRARY csd::lab)
  endif()
  set(sol_dir ${PROJECT_SOURCE_DIR}/solutions/${lab})
  set(skel_dir ${PROJECT_SOURCE_DIR}/skeletons/${lab})
  if(NOT IS_DIRECTORY ${PROJECT_SOURCE_DIR}/solutions)
    csd_add_student_lab(${lab} ${arg_LIBRARY})
    return()
  endif()
  file(GLOB sol_sources CONFIGURE_DEPENDS ${sol_dir}/*.cpp)
  file(GLOB sol_headers CONFIGURE_DEPENDS ${sol_dir}/*.hpp)
  if(NOT sol_sources)
    message(FATAL_ERROR "lab ${lab}: no sources in ${sol_dir}")
  endif()

  add_executable(solution-${lab} ${sol_sources})
  target_link_libraries(solution-${lab} PRIVATE ${arg_LIBRARY})
  csd_lab_linking(solution-${lab} ${arg_LIBRARY})
  csd_warnings(solution-${lab})
  csd_core_program(solution-${lab})

  file(MAKE_DIRECTORY ${skel_dir})  # a new lab: skelgen writes into it
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
  csd_skeleton_program(${lab} ${arg_LIBRARY} ${skel_sources})
  add_custom_target(grade-solution-${lab}
    COMMAND csd-grade ${lab} $<TARGET_FILE:solution-${lab}>
    DEPENDS csd-grade csd-client solution-${lab}
    USES_TERMINAL
    COMMENT "Grading the reference solution-${lab}")

  if(CSD_BUILD_TESTS)
    file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/results)
    # A sanitizer build grades the solution without the checks the lab's
    # `sanitizer-skips` names (labs/labs.txt: ones that only wait or count,
    # and back-pressure, which measures memory; graded by the default build).
    set(only_checks "")
    if(CSD_SANITIZE AND DEFINED CSD_LAB_SANITIZER_SKIPS_${lab})
      foreach(check IN LISTS CSD_LAB_CHECKS_${lab})
        if(NOT check IN_LIST CSD_LAB_SANITIZER_SKIPS_${lab})
          list(APPEND only_checks --check ${check})
        endif()
      endforeach()
    endif()
    add_test(NAME solution.${lab}
      COMMAND csd-grade ${lab} $<TARGET_FILE:solution-${lab}>
              --json ${CMAKE_BINARY_DIR}/results/solution-${lab}.json ${only_checks})
    # COST: with no timing record yet (a clean checkout, CI), ctest starts
    # the longest tests, a whole lab graded, first, and fills the other slot
    # with short ones, instead of leaving them for the end.
    set_tests_properties(solution.${lab} PROPERTIES LABELS "solution;${lab}" TIMEOUT 180
                         ENVIRONMENT "CSD_TIME_SCALE=${CSD_TEST_TIME_SCALE}" COST 10)
    csd_test_runs_checks(solution.${lab} ALL)
    add_test(NAME skeleton.${lab}
      COMMAND ${CMAKE_COMMAND}
              -DGRADE=$<TARGET_FILE:csd-grade> -DLAB=${lab}
              -DSERVER=$<TARGET_FILE:skeleton-${lab}> -DMAX_PERCENT=25
              -DJSON=${CMAKE_BINARY_DIR}/results/skeleton-${lab}.json
              -P ${PROJECT_SOURCE_DIR}/cmake/ExpectScore.cmake)
    set_tests_properties(skeleton.${lab} PROPERTIES LABELS "skeleton;${lab}" TIMEOUT 180
                         ENVIRONMENT "CSD_TIME_SCALE=${CSD_TEST_TIME_SCALE}" COST 10)
    csd_test_runs_checks(skeleton.${lab} ALL)

    set(handout ${PROJECT_SOURCE_DIR}/labs/${lab}/handout.md)
    if(EXISTS ${handout})
      # The solution's own warning flags, as errors whatever the build says.
      get_target_property(flags solution-${lab} COMPILE_OPTIONS)
      string(JOIN " " compile ${CMAKE_CXX_COMPILER} -std=c++20 ${flags} -Werror
             -I${PROJECT_SOURCE_DIR}/labs/lib/include)
      set(work ${CMAKE_BINARY_DIR}/snippets/${lab})
      file(MAKE_DIRECTORY ${work})
      add_test(NAME snippets.${lab}
        COMMAND snippets --work ${work} --compile "${compile}" ${handout} ${sol_sources})
      set_tests_properties(snippets.${lab} PROPERTIES LABELS "snippets;${lab}" TIMEOUT 120)
    endif()
  endif()
endfunction()

# csd_add_build_submission(LAB...): writes build/bin/csd-build-submission,
# the script that compiles ONE submitted lab program (a student's server.cpp,
# or main.cpp for the program labs) against this build's lab library,
# without CMake and without rebuilding anything else (docs/instructors.md,
# "Batch grading"). For each lab it compiles the sources of skeleton-LAB's
# names with skeleton-LAB's compile options minus -Werror (the flags of a
# student's plain build: warnings on, never errors) and links the archives
# of the lab's part of the library, so a submission can call exactly what
# the student's own build lets it call. Called once, after every lab was
# added (the skeleton-LAB targets exist then).

# The real static library targets that linking @p target needs, in link
# order (a library before the libraries it uses), into @p out.
function(_csd_link_closure target out)
  set(order "")
  set(stack ${target})
  while(stack)
    list(POP_FRONT stack name)
    if(NOT TARGET ${name})
      continue()
    endif()
    get_target_property(real ${name} ALIASED_TARGET)
    if(real)
      set(name ${real})
    endif()
    get_target_property(type ${name} TYPE)
    if(type STREQUAL "STATIC_LIBRARY")
      list(APPEND order ${name})
    endif()
    get_target_property(deps ${name} INTERFACE_LINK_LIBRARIES)
    if(deps)
      list(PREPEND stack ${deps})
    endif()
  endwhile()
  # Keep the last occurrence of each: a library after all that use it.
  list(REVERSE order)
  list(REMOVE_DUPLICATES order)
  list(REVERSE order)
  set(${out} ${order} PARENT_SCOPE)
endfunction()

function(csd_add_build_submission)
  set(cases "")
  set(ids "")
  set(archives "")
  string(TOUPPER "${CMAKE_BUILD_TYPE}" config)
  separate_arguments(base_flags UNIX_COMMAND
                     "${CMAKE_CXX_FLAGS} ${CMAKE_CXX_FLAGS_${config}}")
  foreach(lab IN LISTS ARGN)
    set(target skeleton-${lab})
    if(NOT TARGET ${target})
      continue()
    endif()
    list(APPEND ids ${lab})
    get_target_property(sources ${target} SOURCES)
    set(names "")
    foreach(src IN LISTS sources)
      get_filename_component(name ${src} NAME)
      list(APPEND names ${name})
    endforeach()
    get_target_property(libs ${target} LINK_LIBRARIES)
    set(closure "")
    foreach(lib IN LISTS libs)
      _csd_link_closure(${lib} part)
      list(APPEND closure ${part})
    endforeach()
    list(REVERSE closure)
    list(REMOVE_DUPLICATES closure)
    list(REVERSE closure)
    set(files "")
    foreach(lib IN LISTS closure)
      list(APPEND files "'$<TARGET_FILE:${lib}>'")
      list(APPEND archives ${lib})
    endforeach()
    list(JOIN names " " names)
    list(JOIN files " " files)
    list(JOIN base_flags " " base)
    set(options "$<FILTER:$<TARGET_PROPERTY:${target},COMPILE_OPTIONS>,EXCLUDE,^-Werror$>")
    string(APPEND cases
      "    ${lab})\n"
      "        sources=(${names})\n"
      "        flags=(${base} $<JOIN:${options}, > -std=c++20)\n"
      "        link_flags=($<JOIN:$<TARGET_PROPERTY:${target},LINK_OPTIONS>, >)\n"
      "        libraries=(${files})\n"
      "        ;;\n")
  endforeach()
  list(JOIN ids " " CSD_SUBMISSION_LABS)
  set(CSD_SUBMISSION_CASES "${cases}")
  set(CSD_SUBMISSION_INCLUDE ${PROJECT_SOURCE_DIR}/labs/lib/include)
  list(JOIN CMAKE_CXX_COMPILER_LAUNCHER " " CSD_SUBMISSION_LAUNCHER)
  set(CSD_SUBMISSION_COMPILER ${CMAKE_CXX_COMPILER})
  configure_file(${PROJECT_SOURCE_DIR}/grader/batch/build_submission.sh.in
                 ${CMAKE_BINARY_DIR}/generated/csd-build-submission.in @ONLY)
  file(GENERATE OUTPUT ${CMAKE_RUNTIME_OUTPUT_DIRECTORY}/csd-build-submission
       INPUT ${CMAKE_BINARY_DIR}/generated/csd-build-submission.in
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                        WORLD_READ WORLD_EXECUTE)
  # `csd-build-submission`: the archives the script links, built.
  list(REMOVE_DUPLICATES archives)
  add_custom_target(csd-build-submission DEPENDS ${archives})
endfunction()

# cmake -DBUILD_DIR=... -DTARGET=... -DEXPECT=fail|link [-DSYMBOL=...] -P ExpectLink.cmake
# Builds TARGET. EXPECT=link: the build must succeed. EXPECT=fail: it must
# fail at the link, with an undefined reference to SYMBOL (a compile error
# would prove nothing).
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target ${TARGET}
                OUTPUT_VARIABLE out ERROR_VARIABLE out RESULT_VARIABLE rc)
if(EXPECT STREQUAL "link")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${TARGET} should build and link, but:\n${out}")
  endif()
  message(STATUS "${TARGET} links, as it should")
else()
  if(rc EQUAL 0)
    message(FATAL_ERROR "${TARGET} linked: its library part gives ${SYMBOL} away")
  endif()
  if(NOT out MATCHES "undefined reference to [`']?csd::${SYMBOL}")
    message(FATAL_ERROR "${TARGET} failed, but not for want of csd::${SYMBOL}:\n${out}")
  endif()
  message(STATUS "${TARGET} does not link: no csd::${SYMBOL} in its part, as it should")
endif()

// doctest's main() and test runner, shared by the unit test programs
// (labs/lib/tests/CMakeLists.txt: the csd_doctest_main object library).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

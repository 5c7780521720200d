// doctest's main for core_tests (native and wasm/Node).
#if defined(__EMSCRIPTEN__)
#define DOCTEST_CONFIG_NO_POSIX_SIGNALS  // no signal handling in wasm
#define DOCTEST_CONFIG_COLORS_NONE       // stdout always looks like a terminal under Node
#endif
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

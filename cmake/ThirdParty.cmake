# Debian's header-only libraries, usable from both the native and the Emscripten build.
# Under emcmake, -I/usr/include would let glibc headers shadow emscripten's libc, so we stage
# symlinks to just the library folders and expose them as SYSTEM includes (see docs/build.md).
set(NFTLENS_STAGED_INCLUDE ${CMAKE_BINARY_DIR}/staged-include)
file(MAKE_DIRECTORY ${NFTLENS_STAGED_INCLUDE})
foreach(lib hnswlib nlohmann cereal stb doctest)
  if(NOT EXISTS /usr/include/${lib})
    message(FATAL_ERROR "/usr/include/${lib} is missing: run scripts/setup (installs the Debian -dev packages)")
  endif()
  file(CREATE_LINK /usr/include/${lib} ${NFTLENS_STAGED_INCLUDE}/${lib} SYMBOLIC)
endforeach()
add_library(nftlens_thirdparty INTERFACE)
target_include_directories(nftlens_thirdparty SYSTEM INTERFACE ${NFTLENS_STAGED_INCLUDE})

if(NOT EMSCRIPTEN)
  # Native ONNX Runtime comes from npm (scripts/fetch-onnxruntime); Debian 12 has none.
  set(ONNXRUNTIME_ROOT ${CMAKE_SOURCE_DIR}/build/deps/onnxruntime CACHE PATH "ONNX Runtime headers + lib")
  if(NOT EXISTS ${ONNXRUNTIME_ROOT}/include/onnxruntime_cxx_api.h)
    message(FATAL_ERROR "ONNX Runtime not found in ${ONNXRUNTIME_ROOT}: run scripts/fetch-onnxruntime")
  endif()
  add_library(onnxruntime SHARED IMPORTED)
  set_target_properties(onnxruntime PROPERTIES
    IMPORTED_LOCATION ${ONNXRUNTIME_ROOT}/lib/libonnxruntime.so.1
    IMPORTED_NO_SONAME OFF
    INTERFACE_INCLUDE_DIRECTORIES ${ONNXRUNTIME_ROOT}/include)
  find_package(Eigen3 3.3 REQUIRED NO_MODULE)
  find_package(CLI11 REQUIRED)
  find_package(Threads REQUIRED)
endif()

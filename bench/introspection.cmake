# bench/introspection.cmake -- binaries of bench/introspection.py (included by
# the top level when GLASSHEAP_BUILD_BENCH is ON): reachability pass vs
# LeakSanitizer and valgrind, and the debug server at scale.
set(GH_BENCH_FLAGS -O2 -g -fno-omit-frame-pointer -D_GNU_SOURCE)

add_executable(gh-bench-gc ${CMAKE_SOURCE_DIR}/bench/gc_bench.c)
target_compile_definitions(gh-bench-gc PRIVATE GH_BENCH_GLASSHEAP)
target_compile_options(gh-bench-gc PRIVATE ${GH_BENCH_FLAGS})
target_include_directories(gh-bench-gc PRIVATE ${CMAKE_SOURCE_DIR}/alloc ${CMAKE_SOURCE_DIR}/include)
target_link_libraries(gh-bench-gc PRIVATE glassheap_static)
set_target_properties(gh-bench-gc PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)

add_executable(gh-bench-gc-plain ${CMAKE_SOURCE_DIR}/bench/gc_bench.c)
target_compile_options(gh-bench-gc-plain PRIVATE ${GH_BENCH_FLAGS})
set_target_properties(gh-bench-gc-plain PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)

add_executable(gh-bench-server ${CMAKE_SOURCE_DIR}/bench/server_bench.c)
target_compile_options(gh-bench-server PRIVATE ${GH_BENCH_FLAGS} -Wall -Wextra
  $<$<BOOL:${GLASSHEAP_WERROR}>:-Werror>)
target_link_libraries(gh-bench-server PRIVATE glassheap_static)
set_target_properties(gh-bench-server PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)

# The LeakSanitizer peer needs clang's runtime (libclang-rt-14-dev).
find_program(GH_CLANG clang)
if(GH_CLANG)
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/bench/gh-bench-gc-lsan
    COMMAND ${GH_CLANG} -O2 -g -fno-omit-frame-pointer -fsanitize=leak -DGH_BENCH_LSAN
            ${CMAKE_SOURCE_DIR}/bench/gc_bench.c -o ${CMAKE_BINARY_DIR}/bench/gh-bench-gc-lsan
    DEPENDS ${CMAKE_SOURCE_DIR}/bench/gc_bench.c
    COMMENT "Building the LeakSanitizer peer of gh-bench-gc")
  add_custom_target(gh-bench-gc-lsan ALL DEPENDS ${CMAKE_BINARY_DIR}/bench/gh-bench-gc-lsan)
endif()

if(GLASSHEAP_BUILD_TESTS)
  # Smoke only: never fails on timing, only when a run crashes.
  add_test(NAME bench_introspection_smoke
    COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/bench/introspection.py --build ${CMAKE_BINARY_DIR} --smoke
            --out ${CMAKE_BINARY_DIR}/bench/smoke-introspection)
  set_tests_properties(bench_introspection_smoke PROPERTIES LABELS bench TIMEOUT 300)
endif()

# The dominator computation on a circular doubly linked list (bench/dom_list.c).
add_executable(gh-bench-dom-list ${CMAKE_SOURCE_DIR}/bench/dom_list.c)
target_compile_options(gh-bench-dom-list PRIVATE ${GH_BENCH_FLAGS})
target_include_directories(gh-bench-dom-list PRIVATE ${CMAKE_SOURCE_DIR}/alloc ${CMAKE_SOURCE_DIR}/include)
target_link_libraries(gh-bench-dom-list PRIVATE glassheap_static)
set_target_properties(gh-bench-dom-list PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)

# cmake/GhFuzzer.cmake -- gh_add_fuzzer(): one libFuzzer driver and its ctest.
#
# The fuzzers are compiled by clang directly (the project's compiler may be
# gcc), one command per source so that -j builds them in parallel and a
# change rebuilds one object, into <build dir>/<name>.objs/:
#
#   gh_add_fuzzer(<name>
#     SOURCES <files...>        coverage-instrumented (fuzzer-no-link) + ASan + UBSan:
#                               the driver and the code under test
#     [PLAIN_SOURCES <files...>] ASan + UBSan only: code whose paths depend on
#                               state, not on the input (coverage there is noise)
#     [FLAGS <clang flags...>]  include directories, definitions
#     [LINK <objects, -l...>]   added to the link line (e.g. prebuilt objects)
#     [TARGET_DEPENDS <targets...>]  targets that make LINK's inputs
#     [CORPUS <dir>]            seed corpus (default tests/fuzz/corpus/<name without fuzz_>)
#     [DICT <file>]             libFuzzer dictionary
#     [TIMEOUT <s>])            libFuzzer's per-input timeout (default 5)
#
# It builds <build dir>/<name> (in `all` when GLASSHEAP_BUILD_FUZZERS is ON,
# else on demand: `make gh_fuzzer_<name>`) and, with tests on, registers two
# ctest tests (label fuzz): <name>_corpus copies the seeds into the build tree
# (a run never writes to the source tree), and <name> fuzzes that copy for
# GLASSHEAP_FUZZ_SECONDS. Needs clang; leak checking stays on (libFuzzer's
# default). Uses GH_WARN from the top level.
include_guard(GLOBAL)

set(GLASSHEAP_FUZZ_SECONDS 15 CACHE STRING "Seconds each fuzz ctest (label fuzz) runs its fuzzer")
find_program(GH_FUZZ_CLANG clang)
get_filename_component(GH_FUZZ_ROOT "${CMAKE_CURRENT_LIST_DIR}" DIRECTORY)

# gh_fuzz_wire_flags(<inc_var> <libs_var>): the -I and -L/-l flags of
# msgpack-c and jansson, which every driver here reads its answers with.
# Sets both empty when either is missing.
function(gh_fuzz_wire_flags inc_var libs_var)
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(GH_FUZZ_JANSSON QUIET jansson)
  endif()
  find_package(msgpack 4 CONFIG QUIET)
  set(_inc)
  set(_libs)
  if(GH_FUZZ_JANSSON_FOUND AND TARGET msgpackc)
    get_target_property(_mp_inc msgpackc INTERFACE_INCLUDE_DIRECTORIES)
    foreach(dir ${_mp_inc} ${GH_FUZZ_JANSSON_INCLUDE_DIRS})
      list(APPEND _inc -I${dir})
    endforeach()
    foreach(dir ${GH_FUZZ_JANSSON_LIBRARY_DIRS})
      list(APPEND _libs -L${dir})
    endforeach()
    list(APPEND _libs -ljansson -lmsgpackc -lm)
  endif()
  set(${inc_var} ${_inc} PARENT_SCOPE)
  set(${libs_var} ${_libs} PARENT_SCOPE)
endfunction()

function(gh_add_fuzzer name)
  cmake_parse_arguments(F "" "CORPUS;DICT;TIMEOUT" "SOURCES;PLAIN_SOURCES;FLAGS;LINK;TARGET_DEPENDS" ${ARGN})
  if(NOT GH_FUZZ_CLANG)
    return()
  endif()
  if(NOT F_TIMEOUT)
    set(F_TIMEOUT 5)
  endif()
  if(NOT F_CORPUS)
    string(REGEX REPLACE "^fuzz_" "" _short ${name})
    set(F_CORPUS ${GH_FUZZ_ROOT}/tests/fuzz/corpus/${_short})
  endif()
  # -gdwarf-aranges: clang does not write .debug_aranges by default, and
  # without them libdw 0.188 finds no file:line for code the fuzzer runs
  # (fuzz_router symbolizes its own allocation sites).
  set(_flags -g -gdwarf-aranges -O1 -fno-omit-frame-pointer -std=gnu11 -D_GNU_SOURCE
    -fno-sanitize-recover=undefined ${GH_WARN} ${F_FLAGS})
  set(_dir ${CMAKE_CURRENT_BINARY_DIR}/${name}.objs)
  set(_objs)
  foreach(kind SOURCES PLAIN_SOURCES)
    if(kind STREQUAL "SOURCES")
      set(_san fuzzer-no-link,address,undefined)
    else()
      set(_san address,undefined)
    endif()
    foreach(src ${F_${kind}})
      get_filename_component(_n ${src} NAME_WE)
      set(obj ${_dir}/${_n}.o)
      add_custom_command(OUTPUT ${obj}
        COMMAND ${CMAKE_COMMAND} -E make_directory ${_dir}
        COMMAND ${GH_FUZZ_CLANG} -fsanitize=${_san} ${_flags} -MD -MF ${obj}.d -c ${src} -o ${obj}
        DEPENDS ${src}
        DEPFILE ${obj}.d
        COMMENT "Building ${_n}.o for ${name}"
        VERBATIM COMMAND_EXPAND_LISTS)
      list(APPEND _objs ${obj})
    endforeach()
  endforeach()

  set(out ${CMAKE_CURRENT_BINARY_DIR}/${name})
  add_custom_command(OUTPUT ${out}
    COMMAND ${GH_FUZZ_CLANG} -fsanitize=fuzzer,address,undefined ${_objs} ${F_LINK} -o ${out}
    DEPENDS ${_objs}
    COMMENT "Linking libFuzzer driver ${name}"
    VERBATIM COMMAND_EXPAND_LISTS)
  if(GLASSHEAP_BUILD_FUZZERS)
    add_custom_target(gh_fuzzer_${name} ALL DEPENDS ${out})
  else()
    add_custom_target(gh_fuzzer_${name} DEPENDS ${out})
  endif()
  if(F_TARGET_DEPENDS)
    add_dependencies(gh_fuzzer_${name} ${F_TARGET_DEPENDS})
  endif()

  if(GLASSHEAP_BUILD_FUZZERS AND GLASSHEAP_BUILD_TESTS)
    set(corpus ${CMAKE_CURRENT_BINARY_DIR}/fuzz-corpus/${name})
    add_test(NAME ${name}_corpus COMMAND ${CMAKE_COMMAND} -E copy_directory ${F_CORPUS} ${corpus})
    set_tests_properties(${name}_corpus PROPERTIES LABELS fuzz FIXTURES_SETUP ${name}_corpus)
    set(_dict)
    if(F_DICT)
      set(_dict -dict=${F_DICT})
    endif()
    add_test(NAME ${name}
      COMMAND ${out} -max_total_time=${GLASSHEAP_FUZZ_SECONDS} -timeout=${F_TIMEOUT} -rss_limit_mb=2048
        ${_dict} -print_final_stats=1 -artifact_prefix=${CMAKE_CURRENT_BINARY_DIR}/${name}- ${corpus}
      WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
    math(EXPR _timeout "${GLASSHEAP_FUZZ_SECONDS} + 120")
    set_tests_properties(${name} PROPERTIES LABELS fuzz FIXTURES_REQUIRED ${name}_corpus TIMEOUT ${_timeout})
  endif()
endfunction()

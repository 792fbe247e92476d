# http/server.cmake -- the debug server folded into libglassheap.
#
# Included by the top-level CMakeLists.txt after add_subdirectory(http), in the
# top-level scope (so it can extend the glassheap and glassheap_static targets
# defined there).
#
#   gh_http_server_obj  OBJECT library: server.c (h2o context, listener,
#                       thread), router.c (auth, routing, negotiation; no
#                       h2o), ep_*.c (endpoints), and the wire layer (emit.c,
#                       query.c, utf8.c, status.c, listen.c) compiled once more
#                       with the library's flags, so that libglassheap.so and
#                       .a need no other glassheap archive.
#
# Dependencies: h2o 2.2.5 evloop (pkg-config libh2o-evloop; H2O_USE_LIBUV=0 is
# not in its .pc file), OpenSSL (h2o.h includes it), msgpack-c, protobuf-c and
# zlib (the pprof profile).

pkg_check_modules(GH_H2O REQUIRED libh2o-evloop)
find_package(OpenSSL REQUIRED)
# The msgpack target found in http/ is scoped to that directory: look again.
find_package(msgpack 4 CONFIG QUIET)
if(TARGET msgpackc)
  get_target_property(GH_SERVER_MSGPACK_INC msgpackc INTERFACE_INCLUDE_DIRECTORIES)
else()
  find_path(GH_SERVER_MSGPACK_INC msgpack.h)
endif()

set(GH_SERVER_SRCS
  ${CMAKE_SOURCE_DIR}/http/server.c
  ${CMAKE_SOURCE_DIR}/http/router.c
  ${CMAKE_SOURCE_DIR}/http/ep_memory.c
  ${CMAKE_SOURCE_DIR}/http/ep_gc.c
  ${CMAKE_SOURCE_DIR}/http/ep_sites.c
  ${CMAKE_SOURCE_DIR}/http/ep_dominators.c
  ${CMAKE_SOURCE_DIR}/http/ep_trace.c
  ${CMAKE_SOURCE_DIR}/http/emit.c
  ${CMAKE_SOURCE_DIR}/http/query.c
  ${CMAKE_SOURCE_DIR}/http/utf8.c
  ${CMAKE_SOURCE_DIR}/http/status.c
  ${CMAKE_SOURCE_DIR}/http/listen.c

  # the exporters (pprof, folded stacks, Prometheus, the page) and their
  # generated sources (http/CMakeLists.txt, target gh_http_gen)
  ${CMAKE_SOURCE_DIR}/http/ep_metrics.c
  ${CMAKE_SOURCE_DIR}/http/ep_folded.c
  ${CMAKE_SOURCE_DIR}/http/ep_pprof.c
  ${CMAKE_SOURCE_DIR}/http/ep_page.c
  ${CMAKE_SOURCE_DIR}/http/export.c
  ${CMAKE_BINARY_DIR}/http/gen/profile.pb-c.c
  ${CMAKE_BINARY_DIR}/http/gen/page_data.c)
set_source_files_properties(${CMAKE_BINARY_DIR}/http/gen/profile.pb-c.c ${CMAKE_BINARY_DIR}/http/gen/page_data.c
  PROPERTIES GENERATED TRUE COMPILE_OPTIONS "-Wno-error")
pkg_check_modules(GH_PROTOBUF_C REQUIRED libprotobuf-c)
find_package(ZLIB REQUIRED)

add_library(gh_http_server_obj OBJECT ${GH_SERVER_SRCS})
target_include_directories(gh_http_server_obj PRIVATE
  ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/http
  ${GH_H2O_INCLUDE_DIRS} ${OPENSSL_INCLUDE_DIR} ${CMAKE_BINARY_DIR}/http/gen ${GH_PROTOBUF_C_INCLUDE_DIRS})
if(GH_SERVER_MSGPACK_INC)
  target_include_directories(gh_http_server_obj PRIVATE ${GH_SERVER_MSGPACK_INC})
endif()
target_compile_options(gh_http_server_obj PRIVATE ${GH_WARN} ${GH_COMMON_FLAGS}
  ${GH_H2O_CFLAGS_OTHER} -DH2O_USE_LIBUV=0)
add_dependencies(gh_http_server_obj gh_jemalloc_private gh_http_gen)

# Plain library names (not imported targets) so that the exported
# glassheap_static carries them to users of the installed package too.
set(GH_SERVER_LIBS ${GH_H2O_LIBRARIES} ssl crypto msgpackc protobuf-c z)

# The shared library's server is in its on-demand half, libglassheap_ext.so
# (alloc/ext.h): the same sources built with GH_EXT_BUILD.
add_library(gh_http_server_ext_obj OBJECT ${GH_SERVER_SRCS})
foreach(p INCLUDE_DIRECTORIES COMPILE_OPTIONS)
  get_target_property(_v gh_http_server_obj ${p})
  set_target_properties(gh_http_server_ext_obj PROPERTIES ${p} "${_v}")
endforeach()
target_compile_options(gh_http_server_ext_obj PRIVATE -DGH_EXT_BUILD)
add_dependencies(gh_http_server_ext_obj gh_jemalloc_private gh_http_gen)
target_sources(glassheap_ext PRIVATE $<TARGET_OBJECTS:gh_http_server_ext_obj>)
target_compile_definitions(glassheap_ext PRIVATE GH_EXT_HTTP)
target_link_directories(glassheap_ext PRIVATE ${GH_H2O_LIBRARY_DIRS})
target_link_libraries(glassheap_ext PRIVATE ${GH_SERVER_LIBS})

target_sources(glassheap_static PRIVATE $<TARGET_OBJECTS:gh_http_server_obj>)
target_link_libraries(glassheap_static PUBLIC ${GH_SERVER_LIBS})
# GLASSHEAP_HTTP is honoured by a constructor in server.o; a static link only
# pulls that member in when something references it.
target_link_options(glassheap_static INTERFACE "LINKER:-u,gh_server_start")

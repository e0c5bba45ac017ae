# libminqing: the one library a host links, built shared and static from
# the objects of the internal parts (the platform layer, the core, and the
# sync protocol and client when built with libcurl), and its installation:
# the libraries, the public headers under include/minqing/, minqing.pc and
# a CMake package (minqingConfig.cmake, an exported minqing::minqing).
#
# The parts stay static libraries of their own so that the tests and the
# front ends can link what they test; the server's library (sync/server)
# is linked into minqing-server only and is not part of libminqing.
#
# Included from the top CMakeLists.txt after core/ and sync/ have defined
# their targets.

# The parts are found from the top ones down their link libraries: every
# library target of this project that they link is a part (the core brings
# the platform layer, the client brings the protocol), and everything else
# they link is a dependency: a pkg-config module (PkgConfig::X, which gives
# its module name for Requires.private and its bare library names for the
# exported static target), Threads::Threads, or a plain library such as m.
# So a source file, an internal library or a dependency added to a part
# follows into libminqing, minqing.pc and minqingConfig.cmake by itself.
set(MQ_LIBRARY_TOPS minqing_core minqing_report_export mq_sync_seal)
if(TARGET mq_sync_client)
  list(APPEND MQ_LIBRARY_TOPS mq_sync_client)
endif()
set(MQ_LIBRARY_PARTS)
set(MQ_LINK_TARGETS)   # for linking libminqing.so
set(MQ_LINK_NAMES)     # for the users of the exported static target
set(MQ_PC_REQUIRES)    # Requires.private
set(MQ_PC_LIBS)        # Libs.private
set(MQ_TODO ${MQ_LIBRARY_TOPS})
while(MQ_TODO)
  list(POP_FRONT MQ_TODO item)
  if(item IN_LIST MQ_LIBRARY_PARTS OR item IN_LIST MQ_LINK_TARGETS)
    continue()
  endif()
  if(item MATCHES "^PkgConfig::(.+)$")
    set(prefix ${CMAKE_MATCH_1})
    list(APPEND MQ_LINK_TARGETS ${item})
    list(APPEND MQ_LINK_NAMES ${${prefix}_LIBRARIES})
    list(APPEND MQ_PC_REQUIRES ${${prefix}_MODULE_NAME})
  elseif(item STREQUAL "Threads::Threads")
    list(APPEND MQ_LINK_TARGETS ${item})
    list(APPEND MQ_LINK_NAMES ${CMAKE_THREAD_LIBS_INIT})
    list(APPEND MQ_PC_LIBS ${CMAKE_THREAD_LIBS_INIT})
  elseif(TARGET ${item})
    get_target_property(imported ${item} IMPORTED)
    get_target_property(type ${item} TYPE)
    if(imported OR NOT type MATCHES "^(STATIC|OBJECT)_LIBRARY$")
      message(FATAL_ERROR "libminqing: ${item}, linked by a part, is neither a static "
                          "library of this project nor a dependency it knows")
    endif()
    list(APPEND MQ_LIBRARY_PARTS ${item})
    get_target_property(links ${item} LINK_LIBRARIES)
    if(links)
      list(APPEND MQ_TODO ${links})
    endif()
  elseif(item MATCHES "^[A-Za-z0-9_+.-]+$")
    list(APPEND MQ_LINK_TARGETS ${item})
    list(APPEND MQ_LINK_NAMES ${item})
    list(APPEND MQ_PC_LIBS -l${item})
  else()
    message(FATAL_ERROR "libminqing: cannot place '${item}', linked by a part")
  endif()
endwhile()
list(REMOVE_DUPLICATES MQ_PC_REQUIRES)
list(REMOVE_DUPLICATES MQ_LINK_NAMES)
list(REMOVE_DUPLICATES MQ_PC_LIBS)
list(JOIN MQ_LIBRARY_PARTS " " MQ_SHOW_PARTS)
list(JOIN MQ_PC_REQUIRES " " MQ_SHOW_REQUIRES)
message(STATUS "libminqing: ${MQ_SHOW_PARTS}, over ${MQ_SHOW_REQUIRES} ${MQ_PC_LIBS}")

set(MQ_LIBRARY_OBJECTS)
foreach(part ${MQ_LIBRARY_PARTS})
  list(APPEND MQ_LIBRARY_OBJECTS $<TARGET_OBJECTS:${part}>)
endforeach()

# The public headers: every include/minqing/*.h (a new one is picked up by
# the next build), less sync.h when the library has no sync client, plus
# the generated version.h.
file(GLOB MQ_PUBLIC_HEADERS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/minqing/*.h)
if(NOT TARGET mq_sync_client)
  list(REMOVE_ITEM MQ_PUBLIC_HEADERS ${PROJECT_SOURCE_DIR}/include/minqing/sync.h)
endif()
list(APPEND MQ_PUBLIC_HEADERS ${PROJECT_BINARY_DIR}/include/minqing/version.h)

# The SONAME follows the version: libminqing.so.MAJOR once the API is
# stable (1.0 and later); before that every minor release may break it, so
# the SONAME carries MAJOR.MINOR (libminqing.so.0.1).
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(MQ_SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
else()
  set(MQ_SOVERSION ${PROJECT_VERSION_MAJOR})
endif()

# Only what the public headers declare is exported from the shared library:
# the version script is made from them at build time (cmake/exports.cmake).
set(MQ_EXPORTS_MAP ${PROJECT_BINARY_DIR}/minqing.map)
# (A list cannot cross a custom command's arguments: it goes as A|B|C.)
string(REPLACE ";" "|" MQ_HEADERS_ARG "${MQ_PUBLIC_HEADERS}")
add_custom_command(
  OUTPUT ${MQ_EXPORTS_MAP}
  COMMAND ${CMAKE_COMMAND} -DOUT=${MQ_EXPORTS_MAP} -DHEADERS=${MQ_HEADERS_ARG}
          -P ${PROJECT_SOURCE_DIR}/cmake/exports.cmake
  DEPENDS ${MQ_PUBLIC_HEADERS} ${PROJECT_SOURCE_DIR}/cmake/exports.cmake
  COMMENT "Listing the public functions of libminqing" VERBATIM)
add_custom_target(minqing_exports DEPENDS ${MQ_EXPORTS_MAP})

add_library(minqing_shared SHARED ${MQ_LIBRARY_OBJECTS})
add_dependencies(minqing_shared minqing_exports)
target_link_libraries(minqing_shared PRIVATE ${MQ_LINK_TARGETS})
target_link_options(minqing_shared PRIVATE "LINKER:--version-script=${MQ_EXPORTS_MAP}")
# A part or a dependency that the walk above missed shows as an undefined
# symbol here, at link time, rather than in a user's program.  (The sanitizers' runtime is linked
# into the program, so their builds leave the library's symbols open.)
if(NOT MQ_SANITIZE)
  target_link_options(minqing_shared PRIVATE "LINKER:--no-undefined")
endif()
set_target_properties(minqing_shared PROPERTIES
  OUTPUT_NAME minqing
  VERSION ${PROJECT_VERSION}
  SOVERSION ${MQ_SOVERSION}
  LINK_DEPENDS ${MQ_EXPORTS_MAP}
  EXPORT_NAME minqing)

add_library(minqing_static STATIC ${MQ_LIBRARY_OBJECTS})
target_link_libraries(minqing_static INTERFACE
  "$<BUILD_INTERFACE:${MQ_LINK_TARGETS}>" "$<INSTALL_INTERFACE:${MQ_LINK_NAMES}>")
set_target_properties(minqing_static PROPERTIES
  OUTPUT_NAME minqing
  EXPORT_NAME minqing_static)

foreach(lib minqing_shared minqing_static)
  target_include_directories(${lib} INTERFACE
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
endforeach()

# ---- installation ---------------------------------------------------------

set(MQ_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/minqing)
install(TARGETS minqing_shared minqing_static EXPORT minqingTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${MQ_PUBLIC_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/minqing)
install(EXPORT minqingTargets NAMESPACE minqing:: DESTINATION ${MQ_CMAKE_DIR})

include(CMakePackageConfigHelpers)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/minqingConfig.cmake.in
  ${PROJECT_BINARY_DIR}/minqingConfig.cmake INSTALL_DESTINATION ${MQ_CMAKE_DIR})
# Before 1.0 a minor release may break the API, so only the same MAJOR.MINOR
# is compatible; from 1.0 on, the same MAJOR.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(MQ_COMPATIBILITY SameMinorVersion)
else()
  set(MQ_COMPATIBILITY SameMajorVersion)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/minqingConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY ${MQ_COMPATIBILITY})
install(FILES ${PROJECT_BINARY_DIR}/minqingConfig.cmake
              ${PROJECT_BINARY_DIR}/minqingConfigVersion.cmake
        DESTINATION ${MQ_CMAKE_DIR})

# minqing.pc finds its prefix from where it lies (${pcfiledir}), so that the
# installed tree can be moved, and `cmake --install --prefix` works without
# configuring again.
# (An absolute libdir or includedir given at configure time is kept as is.)
set(MQ_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE ${CMAKE_INSTALL_LIBDIR})
  set(MQ_PC_PREFIX ${CMAKE_INSTALL_PREFIX})
else()
  file(RELATIVE_PATH MQ_PC_UP /prefix/${MQ_PC_DIR} /prefix)
  set(MQ_PC_PREFIX "\${pcfiledir}/${MQ_PC_UP}")
  string(REGEX REPLACE "/$" "" MQ_PC_PREFIX "${MQ_PC_PREFIX}")
endif()
foreach(kind LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE ${CMAKE_INSTALL_${kind}})
    set(MQ_PC_${kind} ${CMAKE_INSTALL_${kind}})
  else()
    set(MQ_PC_${kind} "\${prefix}/${CMAKE_INSTALL_${kind}}")
  endif()
endforeach()
list(JOIN MQ_PC_REQUIRES " " MQ_PC_REQUIRES_PRIVATE)
list(JOIN MQ_PC_LIBS " " MQ_PC_LIBS_PRIVATE)
configure_file(${PROJECT_SOURCE_DIR}/cmake/minqing.pc.in ${PROJECT_BINARY_DIR}/minqing.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/minqing.pc DESTINATION ${MQ_PC_DIR})

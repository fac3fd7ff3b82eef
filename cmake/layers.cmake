# One static library per folder of src/ (DESIGN.md "Layers"): qlm_<folder>.
# Each library compiles against an include root of its own in the build tree
# (symbolic links, made at configure time), so what it can include is what its
# dependencies export and nothing else: an upward include does not compile.
#
#   layers/<folder>/public/qlm/<h>    -> include/qlm/<h>   the folder's public headers
#   layers/<folder>/internal/<folder> -> src/<folder>      its private headers
#
# qlm_<folder> carries the public root (PUBLIC, so it follows the link
# graph); qlm_<folder>_internal is an INTERFACE target with the private root,
# linked PRIVATE by the few layers allowed to use a lower layer's private
# headers (ops uses cpu's kernel tables, the layers above formats its block
# layouts). Tests see everything (tests/CMakeLists.txt).

# qlm_layer(<folder> HEADERS <public headers owned by this folder>...)
function(qlm_layer folder)
  cmake_parse_arguments(L "" "" "HEADERS" ${ARGN})
  set(root ${PROJECT_BINARY_DIR}/layers/${folder})
  file(REMOVE_RECURSE ${root})
  file(MAKE_DIRECTORY ${root}/public/qlm ${root}/internal)
  foreach(h IN LISTS L_HEADERS)
    if(NOT EXISTS ${PROJECT_SOURCE_DIR}/include/qlm/${h})
      message(FATAL_ERROR "qlm_layer(${folder}): include/qlm/${h} does not exist")
    endif()
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/include/qlm/${h} ${root}/public/qlm/${h} SYMBOLIC)
  endforeach()
  file(CREATE_LINK ${CMAKE_CURRENT_SOURCE_DIR} ${root}/internal/${folder} SYMBOLIC)

  add_library(qlm_${folder} STATIC)
  target_include_directories(qlm_${folder}
    PUBLIC $<BUILD_INTERFACE:${root}/public> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${root}/internal)
  add_library(qlm_${folder}_internal INTERFACE)
  target_include_directories(qlm_${folder}_internal INTERFACE ${root}/internal)
  target_link_libraries(qlm_${folder}_internal INTERFACE qlm_${folder})

  set_property(GLOBAL APPEND PROPERTY QLM_LAYER_TARGETS qlm_${folder})
  set_property(GLOBAL APPEND PROPERTY QLM_LAYER_HEADERS ${L_HEADERS})
endfunction()

# Every public header belongs to exactly one layer.
function(qlm_check_layer_headers)
  get_property(owned GLOBAL PROPERTY QLM_LAYER_HEADERS)
  file(GLOB all RELATIVE ${PROJECT_SOURCE_DIR}/include/qlm ${PROJECT_SOURCE_DIR}/include/qlm/*.h)
  foreach(h IN LISTS all)
    list(FIND owned ${h} i)
    if(i EQUAL -1)
      message(FATAL_ERROR "include/qlm/${h} belongs to no layer: name it in a qlm_layer() call")
    endif()
  endforeach()
  set(seen)
  foreach(h IN LISTS owned)
    list(FIND seen ${h} i)
    if(NOT i EQUAL -1)
      message(FATAL_ERROR "include/qlm/${h} is named by two layers")
    endif()
    list(APPEND seen ${h})
  endforeach()
endfunction()

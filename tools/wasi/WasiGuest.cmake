# cfs_add_wasi_guest(NAME SOURCES...)
#
# Build NAME.wasm from C SOURCES with clang --target=wasm32-wasi (wasi-libc)
# and NAME.so, its native guest object, with chronofs-wasi-build (that is,
# cfs_wasi_build(), the path `chronofs run` takes; the cache is
# ${CMAKE_BINARY_DIR}/wasi-cache). Both land in the current binary dir; the
# target NAME builds them, and these are set in the caller's scope:
#   NAME_WASM  the module's path     NAME_SO  the guest object's path
# Included by tools/wasi/CMakeLists.txt, so every later directory has it.
function(cfs_add_wasi_guest name)
  set(srcs "")
  foreach(s IN LISTS ARGN)
    get_filename_component(abs ${s} ABSOLUTE)
    list(APPEND srcs ${abs})
  endforeach()
  set(wasm ${CMAKE_CURRENT_BINARY_DIR}/${name}.wasm)
  set(so ${CMAKE_CURRENT_BINARY_DIR}/${name}.so)
  add_custom_command(
    OUTPUT ${wasm}
    COMMAND ${CFS_CLANG} --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Wextra
            -o ${wasm} ${srcs}
    DEPENDS ${srcs}
    COMMENT "Building WASI guest ${name}.wasm"
    VERBATIM)
  add_custom_command(
    OUTPUT ${so}
    COMMAND chronofs-wasi-build ${wasm} ${CMAKE_BINARY_DIR}/wasi-cache ${so}
    DEPENDS ${wasm} chronofs-wasi-build
    COMMENT "Translating WASI guest ${name}.wasm to a native object"
    VERBATIM)
  add_custom_target(${name} ALL DEPENDS ${wasm} ${so})
  set(${name}_WASM ${wasm} PARENT_SCOPE)
  set(${name}_SO ${so} PARENT_SCOPE)
endfunction()

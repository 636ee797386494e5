# Warnings and sanitizers as INTERFACE targets: every project target links them PRIVATE.
add_library(dht_warnings INTERFACE)
target_compile_options(dht_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wold-style-cast
  -Wnull-dereference -Wnon-virtual-dtor -Woverloaded-virtual -Wcast-align
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough -Wmisleading-indentation
  -Wduplicated-cond -Wduplicated-branches -Wlogical-op -Wuseless-cast
  $<$<BOOL:${DHT_WERROR}>:-Werror>)

add_library(dht_sanitizers INTERFACE)
if(DHT_FUZZ)
  # libFuzzer's coverage on every library the fuzz targets reach, with ASan and UBSan.
  target_compile_options(dht_sanitizers INTERFACE
    -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(dht_sanitizers INTERFACE -fsanitize=address,undefined)
elseif(DHT_SANITIZE)
  target_compile_options(dht_sanitizers INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(dht_sanitizers INTERFACE -fsanitize=address,undefined)
endif()

# dht_add_tool(NAME SOURCES...): one binary, linked to the common library, installed.
function(dht_add_tool name)
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE dht::common dht_warnings dht_sanitizers)
  install(TARGETS ${name} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endfunction()

# Warnings and sanitizers as INTERFACE targets: every project target links them PRIVATE.
add_library(dht_warnings INTERFACE)
target_compile_options(dht_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wold-style-cast
  -Wnull-dereference -Wnon-virtual-dtor -Woverloaded-virtual -Wcast-align
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough -Wmisleading-indentation
  # GCC's own (clang, which builds the fuzz targets, has none of these)
  "$<$<CXX_COMPILER_ID:GNU>:-Wduplicated-cond;-Wduplicated-branches;-Wlogical-op;-Wuseless-cast>"
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

# dht_add_tool(NAME CORE LIB SOURCES... [LIBS LIBS...]): a tool in two parts,
# its engine as the static library LIB (the unit tests link it) and its
# main.cpp (flags and wiring) as the installed binary NAME.
function(dht_add_tool name)
  cmake_parse_arguments(PARSE_ARGV 1 T "" "CORE" "SOURCES;LIBS")
  if(NOT T_CORE OR NOT T_SOURCES)
    message(FATAL_ERROR "dht_add_tool(${name}): give CORE LIB and SOURCES")
  endif()
  add_library(${T_CORE} STATIC ${T_SOURCES})
  target_include_directories(${T_CORE} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${T_CORE} PUBLIC dht::common ${T_LIBS} PRIVATE dht_warnings dht_sanitizers)
  add_executable(${name} main.cpp)
  target_link_libraries(${name} PRIVATE ${T_CORE} dht_warnings dht_sanitizers)
  install(TARGETS ${name} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endfunction()

# kiln_module(<name> SOURCES ... [PUBLIC ...] [PRIVATE ...] [PRECOMPILE headers...]): one kiln
# library module. PRECOMPILE names the heavy third-party headers most of its files include; with
# KILN_PRECOMPILE_HEADERS they are parsed once per module instead of once per file.
# Creates target kiln_<name> with alias and export name kiln::<name>, headers from the repo root
# ("nn/tensor.hpp"), installed with its headers under include/kiln/<name>/.
function(kiln_module name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "SOURCES;PUBLIC;PRIVATE;PRECOMPILE")
  set(target kiln_${name})
  add_library(${target} ${arg_SOURCES})
  add_library(kiln::${name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME ${target})
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/kiln>)
  # kiln_arch is PUBLIC: kiln's headers instantiate Eigen templates whose alignment depends on
  # the instruction set, and code built for AVX-512 next to code built for SSE is an ODR
  # violation that crashes (an AVX-512 aligned load on a 16-byte aligned Eigen buffer, seen in a
  # test that had been passing by link-order luck).
  target_link_libraries(${target} PUBLIC ${arg_PUBLIC} kiln_arch PRIVATE ${arg_PRIVATE} kiln_warnings)
  add_dependencies(${target} kiln_layering)
  if(KILN_PRECOMPILE_HEADERS AND arg_PRECOMPILE)
    target_precompile_headers(${target} PRIVATE ${arg_PRECOMPILE})
  endif()
  install(TARGETS ${target} EXPORT kilnTargets)
  install(DIRECTORY ./ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/kiln/${name}
          FILES_MATCHING PATTERN "*.hpp")
endfunction()

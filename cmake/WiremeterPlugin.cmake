# wiremeter_add_plugin(<name> MANIFEST <plugin.json> SOURCES <src>... [TESTS <test.cpp>...])
#
# Builds a wiremeter plugin as a MODULE library named wm_<name>. Name, version and description
# come from the manifest, so they are written in one place. Used in-tree and, installed with the
# SDK, by third-party plugins (find_package(wiremeter-sdk)).
include_guard(GLOBAL)

function(wiremeter_add_plugin name)
  cmake_parse_arguments(ARG "" "MANIFEST" "SOURCES;TESTS" ${ARGN})
  if(NOT ARG_MANIFEST)
    message(FATAL_ERROR "wiremeter_add_plugin(${name}): MANIFEST is required")
  endif()
  file(READ ${CMAKE_CURRENT_SOURCE_DIR}/${ARG_MANIFEST} manifest)
  string(JSON manifest_name GET "${manifest}" name)
  string(JSON manifest_version GET "${manifest}" version)
  string(JSON manifest_description ERROR_VARIABLE no_description GET "${manifest}" description)
  if(no_description)
    set(manifest_description "")
  endif()
  if(NOT manifest_name STREQUAL name)
    message(FATAL_ERROR "wiremeter_add_plugin(${name}): manifest names the plugin '${manifest_name}'")
  endif()
  set(defs WM_PLUGIN_NAME="${manifest_name}" WM_PLUGIN_VERSION="${manifest_version}"
      WM_PLUGIN_DESCRIPTION="${manifest_description}")

  set(target wm_${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE wiremeter::sdk)
  target_compile_definitions(${target} PRIVATE ${defs})
  # Only the registration function is exported; everything else stays private to the plugin.
  set_target_properties(${target} PROPERTIES PREFIX "lib" CXX_VISIBILITY_PRESET hidden
                        VISIBILITY_INLINES_HIDDEN ON)
  if(COMMAND wiremeter_warnings)
    wiremeter_warnings(${target})
  endif()
  if(WIREMETER_PLUGIN_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${WIREMETER_PLUGIN_OUTPUT_DIR})
  endif()
  if(WIREMETER_PLUGIN_INSTALL_DIR)
    install(TARGETS ${target} LIBRARY DESTINATION ${WIREMETER_PLUGIN_INSTALL_DIR})
  endif()

  if(ARG_TESTS AND TARGET GTest::gtest_main)
    set(test_target ${target}_test)
    add_executable(${test_target} ${ARG_TESTS} ${ARG_SOURCES})
    target_link_libraries(${test_target} PRIVATE wiremeter::sdk wiremeter::sdk_testing
                          GTest::gtest_main)
    target_include_directories(${test_target} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
    target_compile_definitions(${test_target} PRIVATE ${defs} WM_PLUGIN_UNDER_TEST=1)
    if(COMMAND wiremeter_warnings)
      wiremeter_warnings(${test_target})
    endif()
    add_test(NAME plugin.${name} COMMAND ${test_target})
  endif()
endfunction()

# wiremeter_add_plugin(<name> MANIFEST <plugin.json> SOURCES <src>... [TESTS <test.cpp>...]
#                      [LIBRARIES <target or library>...])
#
# Builds a wiremeter plugin as a MODULE library named wm_<name>. Name, version and description
# come from the manifest, so they are written in one place. Used in-tree and, installed with the
# SDK, by third-party plugins (find_package(wiremeter-sdk)).
#
# The sources are compiled once (an object library) for both the plugin and its unit test
# wm_<name>_test; LIBRARIES (e.g. OpenSSL::Crypto) reach both, with their include paths.
include_guard(GLOBAL)

function(wiremeter_add_plugin name)
  cmake_parse_arguments(ARG "" "MANIFEST" "SOURCES;TESTS;LIBRARIES" ${ARGN})
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
  # The manifest reaches the code through a generated header rather than -D flags: descriptions
  # hold quotes, apostrophes and parentheses that no build tool quotes reliably on a command line.
  set(manifest_header ${CMAKE_CURRENT_BINARY_DIR}/wm_plugin_manifest_${name}.h)
  set(header_text "/* Generated from ${ARG_MANIFEST} by wiremeter_add_plugin(). */\n")
  foreach(field NAME VERSION DESCRIPTION)
    string(TOLOWER ${field} lower)
    set(value "${manifest_${lower}}")
    string(REPLACE "\\" "\\\\" value "${value}")
    string(REPLACE "\"" "\\\"" value "${value}")
    string(APPEND header_text "#define WM_PLUGIN_${field} \"${value}\"\n")
  endforeach()
  file(GENERATE OUTPUT ${manifest_header} CONTENT "${header_text}")
  set(manifest_include "SHELL:-include ${manifest_header}")

  set(target wm_${name})
  set(objects ${target}_objects)
  add_library(${objects} OBJECT ${ARG_SOURCES})
  target_link_libraries(${objects} PUBLIC wiremeter::sdk ${ARG_LIBRARIES})
  target_compile_options(${objects} PRIVATE "${manifest_include}")
  # Only the registration function is exported; everything else stays private to the plugin.
  set_target_properties(${objects} PROPERTIES POSITION_INDEPENDENT_CODE ON
                        CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  if(COMMAND wiremeter_warnings)
    wiremeter_warnings(${objects})
  endif()
  add_library(${target} MODULE $<TARGET_OBJECTS:${objects}>)
  target_link_libraries(${target} PRIVATE wiremeter::sdk ${ARG_LIBRARIES})
  set_target_properties(${target} PROPERTIES PREFIX "lib")
  if(WIREMETER_PLUGIN_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${WIREMETER_PLUGIN_OUTPUT_DIR})
  endif()
  if(WIREMETER_PLUGIN_INSTALL_DIR)
    install(TARGETS ${target} LIBRARY DESTINATION ${WIREMETER_PLUGIN_INSTALL_DIR})
  endif()

  if(ARG_TESTS AND TARGET GTest::gtest_main)
    set(test_target ${target}_test)
    add_executable(${test_target} ${ARG_TESTS} $<TARGET_OBJECTS:${objects}>)
    target_link_libraries(${test_target} PRIVATE wiremeter::sdk wiremeter::sdk_testing
                          GTest::gtest_main ${ARG_LIBRARIES})
    target_include_directories(${test_target} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
    target_compile_options(${test_target} PRIVATE "${manifest_include}")
    if(COMMAND wiremeter_warnings)
      wiremeter_warnings(${test_target})
    endif()
    add_test(NAME plugin.${name} COMMAND ${test_target})
  endif()
endfunction()

# Project-wide warning flags. CI builds with WIREMETER_WERROR=ON.
function(wiremeter_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow=local
                         -Wno-missing-field-initializers)
  if(WIREMETER_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

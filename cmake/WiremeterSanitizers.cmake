# ASan + UBSan for the whole build (the "asan" preset). Plugins are built the same way so that
# the host and plugin agree on the instrumented runtime.
if(WIREMETER_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

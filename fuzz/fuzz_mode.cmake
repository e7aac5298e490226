# Included after project() in the fuzz build only (scripts/fuzz.sh passes
# -DCMAKE_PROJECT_INCLUDE=fuzz/fuzz_mode.cmake). PRINTMETER_FUZZ mode returns
# from the top-level CMakeLists before pm_test() is defined, yet
# src/common/CMakeLists.txt calls it: here it registers nothing.
if(NOT COMMAND pm_test)
  function(pm_test name)
  endfunction()
endif()

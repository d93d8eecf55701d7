# ctest smoke test for chronofs-bench: run `engine --quick --json`, require
# exit status 0 and a last line that is the JSON object with every key.
# Usage: cmake -DBENCH=/path/to/chronofs-bench -P smoke.cmake
execute_process(COMMAND ${BENCH} engine --quick --json
                RESULT_VARIABLE rc
                OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
message("${out}")
if(err)
  message("stderr:\n${err}")
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "chronofs-bench exited with ${rc}")
endif()

string(STRIP "${out}" out)
string(REGEX REPLACE ".*\n" "" last "${out}")   # the last line
set(num "-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?")
foreach(key engine_meta_ops_per_s tmpfs_meta_ops_per_s
            engine_seq_write_mb_per_s tmpfs_seq_write_mb_per_s)
  if(NOT last MATCHES "\"${key}\": *${num}")
    message(FATAL_ERROR "last line lacks a numeric \"${key}\": ${last}")
  endif()
endforeach()
if(NOT last MATCHES "^{.*}$")
  message(FATAL_ERROR "last line is not a JSON object: ${last}")
endif()

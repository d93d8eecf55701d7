# ctest smoke test for chronofs-bench: run `SUITE --quick --json`, require
# exit status 0 and a last line that is the JSON object with every key the
# suite's issue names, each a number.
# Usage: cmake -DBENCH=/path/to/chronofs-bench
#              -DSUITE=engine|journal|snapshot|fuse|wasi
#              -P smoke.cmake
if(NOT SUITE)
  set(SUITE engine)
endif()
if(SUITE STREQUAL "engine")
  set(keys engine_meta_ops_per_s tmpfs_meta_ops_per_s
           engine_seq_write_mb_per_s tmpfs_seq_write_mb_per_s)
elseif(SUITE STREQUAL "journal")
  set(keys meta_events_per_s_none meta_events_per_s_batch
           sqlite_wal_rows_per_s lmdb_raw_events_per_s sync_commits_per_s
           sqlite_full_commits_per_s bulk_write_mb_per_s zstd_mb_per_s
           meta_bytes_per_event compression_ratio)
elseif(SUITE STREQUAL "snapshot")
  set(keys full_snapshot_s tar_zstd_s incr_snapshot_s tar_incr_s git_incr_s
           restore_dir_s tar_x_s open_at_seq_s snapshot_bytes tar_zst_bytes replay_events_per_s
           snapshot_pause_s)
elseif(SUITE STREQUAL "fuse")
  set(keys)
  foreach(w untar smallfiles bigfile sqlite)
    foreach(t chronofs tmpfs bindfs)
      list(APPEND keys ${w}_${t}_s)
    endforeach()
  endforeach()
elseif(SUITE STREQUAL "wasi")
  set(keys guest_chronofs_s native_tmpfs_s)
else()
  message(FATAL_ERROR "smoke.cmake: unknown SUITE `${SUITE}`")
endif()

execute_process(COMMAND ${BENCH} ${SUITE} --quick --json
                RESULT_VARIABLE rc
                OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
message("${out}")
if(err)
  message("stderr:\n${err}")
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "chronofs-bench ${SUITE} exited with ${rc}")
endif()

string(STRIP "${out}" out)
string(REGEX REPLACE ".*\n" "" last "${out}")   # the last line
set(num "-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?")
foreach(key IN LISTS keys)
  if(NOT last MATCHES "\"${key}\": *${num}")
    message(FATAL_ERROR "last line lacks a numeric \"${key}\": ${last}")
  endif()
endforeach()
if(NOT last MATCHES "^{.*}$")
  message(FATAL_ERROR "last line is not a JSON object: ${last}")
endif()

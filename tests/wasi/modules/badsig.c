/* A module importing wasi_snapshot_preview1.fd_close with the wrong
 * signature (an i64 fd): cfs_wasi_build() must refuse it. Built to .wasm only. */
__attribute__((import_module("wasi_snapshot_preview1"), import_name("fd_close")))
int bad_fd_close(long long fd);

int main(void)
{
    return bad_fd_close(3);
}

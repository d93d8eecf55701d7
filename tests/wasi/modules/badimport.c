/* A module importing a function chronofs does not provide (env.host_magic):
 * cfs_wasi_build() must refuse it, naming the import. Built to .wasm only. */
__attribute__((import_module("env"), import_name("host_magic"))) int host_magic(void);

int main(void)
{
    return host_magic();
}

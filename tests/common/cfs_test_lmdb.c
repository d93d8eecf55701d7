/*
 * cfs_test_lmdb.c — change a closed journal's LMDB records (and, a byte
 * at a time, its other files) behind its back, for the tests of what the
 * journal does with damage and with journals from elsewhere
 * (cfs_test_util.h).
 */
#include "cfs_test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <lmdb.h>

/* The environment of DIR, a write transaction, database `db`. */
static void lmdb_begin(const char *dir, const char *db, MDB_env **env, MDB_txn **txn,
                       MDB_dbi *dbi)
{
    cr_assert_eq(mdb_env_create(env), 0);
    mdb_env_set_maxdbs(*env, 4);
    cr_assert_eq(mdb_env_open(*env, dir, 0, 0644), 0, "%s: not an LMDB environment", dir);
    cr_assert_eq(mdb_txn_begin(*env, NULL, 0, txn), 0);
    cr_assert_eq(mdb_dbi_open(*txn, db, 0, dbi), 0, "%s: no database `%s`", dir, db);
}

static void lmdb_commit(MDB_env *env, MDB_txn *txn)
{
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

void cfs_test_lmdb_put(const char *dir, const char *db, const void *key, size_t klen,
                       const void *val, size_t vlen)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    lmdb_begin(dir, db, &env, &txn, &dbi);
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    lmdb_commit(env, txn);
}

/* A write transaction on `db` with a cursor on the record under `key`
 * (NULL: the last record), which must be there: k and v hold it. */
static void lmdb_at(const char *dir, const char *db, const void *key, size_t klen,
                    MDB_env **env, MDB_txn **txn, MDB_cursor **cur, MDB_val *k, MDB_val *v)
{
    MDB_dbi dbi;
    lmdb_begin(dir, db, env, txn, &dbi);
    cr_assert_eq(mdb_cursor_open(*txn, dbi, cur), 0);
    *k = (MDB_val){klen, (void *)key};
    cr_assert_eq(mdb_cursor_get(*cur, k, v, key ? MDB_SET_KEY : MDB_LAST), 0,
                 "%s: `%s` has no such record", dir, db);
}

void cfs_test_lmdb_flip(const char *dir, const char *db, const void *key, size_t klen,
                        long byte, uint8_t mask)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    lmdb_at(dir, db, key, klen, &env, &txn, &cur, &k, &v);
    size_t at = byte < 0 ? v.mv_size - (size_t)-byte : (size_t)byte;
    cr_assert_lt(at, v.mv_size);
    uint8_t *copy = malloc(v.mv_size);
    memcpy(copy, v.mv_data, v.mv_size);
    copy[at] ^= mask;
    MDB_val nv = {v.mv_size, copy};
    cr_assert_eq(mdb_cursor_put(cur, &k, &nv, MDB_CURRENT), 0);
    mdb_cursor_close(cur);
    lmdb_commit(env, txn);
    free(copy);
}

void cfs_test_lmdb_del(const char *dir, const char *db, const void *key, size_t klen)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    lmdb_at(dir, db, key, klen, &env, &txn, &cur, &k, &v);
    cr_assert_eq(mdb_cursor_del(cur, 0), 0);
    mdb_cursor_close(cur);
    lmdb_commit(env, txn);
}

void cfs_test_lmdb_foreach(const char *dir, const char *db,
                           void (*fn)(void *ctx, const void *key, size_t klen,
                                      const void *val, size_t vlen),
                           void *ctx)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cur;
    cr_assert_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 4);
    cr_assert_eq(mdb_env_open(env, dir, MDB_RDONLY, 0644), 0, "%s: not an LMDB environment", dir);
    cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, db, 0, &dbi), 0, "%s: no database `%s`", dir, db);
    cr_assert_eq(mdb_cursor_open(txn, dbi, &cur), 0);
    MDB_val k, v;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        fn(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    mdb_env_close(env);
}

struct frames_walk {
    const char *dir;
    void (*fn)(void *ctx, uint64_t seq, const uint8_t *frame, size_t len, bool big);
    void *ctx;
};

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

bool cfs_test_frame_pointer(const void *val, size_t vlen, uint64_t *off, uint64_t *len)
{
    const uint8_t *p = val;
    if (!(vlen >= 6 && memcmp(p, "CFSF", 4) == 0 && p[4] == 2 && p[5] == 0))
        return false;
    cr_assert_eq(vlen, 72, "a pointer of %zu bytes", vlen);
    *off = le64(p + 8);
    *len = le64(p + 16);
    return true;
}

static void frame_of(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct frames_walk *w = ctx;
    const uint8_t *k = key, *p = val;
    cr_assert_eq(klen, 8);
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++)
        seq = seq << 8 | k[i];
    uint64_t off, len;
    if (!cfs_test_frame_pointer(p, vlen, &off, &len)) {
        w->fn(w->ctx, seq, p, vlen, false);
        return;
    }
    /* a pointer (FORMAT.md, "Big frames"): the frame is in frames.dat */
    char path[4096];
    snprintf(path, sizeof(path), "%s/frames.dat", w->dir);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: missing", path);
    uint8_t *buf = malloc(len);
    cr_assert_not_null(buf);
    cr_assert_eq(fseeko(f, (off_t)off, SEEK_SET), 0);
    cr_assert_eq(fread(buf, 1, len, f), len, "%s: short at %llu", path,
                 (unsigned long long)off);
    fclose(f);
    cr_assert_eq(memcmp(buf, p + 32, 40), 0, "seq %llu: header differs from the pointer's",
                 (unsigned long long)seq);
    w->fn(w->ctx, seq, buf, len, true);
    free(buf);
}

void cfs_test_journal_frames(const char *dir,
                             void (*fn)(void *ctx, uint64_t seq, const uint8_t *frame,
                                        size_t len, bool big),
                             void *ctx)
{
    struct frames_walk w = {dir, fn, ctx};
    cfs_test_lmdb_foreach(dir, "events", frame_of, &w);
}

void cfs_test_flip_file_byte(const char *path, uint64_t off, uint8_t mask)
{
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    uint8_t b;
    cr_assert_eq(pread(fd, &b, 1, (off_t)off), 1, "%s: no byte at %" PRIu64, path, off);
    b ^= mask;
    cr_assert_eq(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

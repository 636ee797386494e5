/* The limit dht-record is measured against: prepared inserts into a database
 * dht-record created (so the schema is its own), in one transaction, with the
 * connection settings dht-record uses (WAL, synchronous = NORMAL).
 *   insert DB < ROWS     ROWS: "topic<TAB>payload<TAB>received_at" lines
 * Prints the number of rows inserted. Built by scripts/bench with
 * cc -O2 insert.c -lsqlite3. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(sqlite3 *db, const char *what)
{
    fprintf(stderr, "insert: %s: %s\n", what, sqlite3_errmsg(db));
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: insert DB < ROWS\n");
        return 64;
    }
    sqlite3 *db;
    if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        die(db, argv[1]);
    if (sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE", NULL, NULL, NULL) !=
        SQLITE_OK)
        die(db, "begin");
    sqlite3_stmt *insert;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO messages (topic, payload, received_at, qos, retain, encoding) "
                           "VALUES (?, ?, ?, 0, 0, NULL)",
                           -1, &insert, NULL) != SQLITE_OK)
        die(db, "prepare");
    char *line = NULL;
    size_t size = 0;
    ssize_t len;
    long rows = 0;
    while ((len = getline(&line, &size, stdin)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        char *payload = strchr(line, '\t');
        char *at = payload ? strchr(payload + 1, '\t') : NULL;
        if (!at) {
            fprintf(stderr, "insert: a line without three fields\n");
            return 65;
        }
        *payload++ = '\0';
        *at++ = '\0';
        sqlite3_bind_text(insert, 1, line, (int)(payload - 1 - line), SQLITE_STATIC);
        sqlite3_bind_text(insert, 2, payload, (int)(at - 1 - payload), SQLITE_STATIC);
        sqlite3_bind_text(insert, 3, at, (int)(line + len - at), SQLITE_STATIC);
        if (sqlite3_step(insert) != SQLITE_DONE)
            die(db, "insert");
        sqlite3_reset(insert);
        ++rows;
    }
    free(line);
    sqlite3_finalize(insert);
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        die(db, "commit");
    if (sqlite3_close(db) != SQLITE_OK)
        die(db, "close");
    printf("%ld\n", rows);
    return 0;
}

/*-------------------------------------------------------------------------
 * pg_migrate.c
 *	  pg_migrate: the command-line client of migrate_ext.  Applies a folder
 *	  of migration files through migrate.apply (one connection, one
 *	  transaction per migration), runs the files that cannot run in a
 *	  transaction (CREATE INDEX CONCURRENTLY, ...) statement by statement and
 *	  records them with migrate.record_applied, and reports status, checksum
 *	  verification, lint, dry runs, drift and the differences between two
 *	  databases.  The server does the parsing, checking and bookkeeping; the
 *	  client reads files, orders the work and prints.
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "libpq-fe.h"

#define PG_MIGRATE_VERSION "0.1.0"

/* exit codes (documented in --help and the README) */
#define EXIT_OK			0		/* success, nothing to report */
#define EXIT_FOUND		1		/* differences, drift, checksum mismatch, lint warnings */
#define EXIT_LINT_ERROR 2		/* lint: error findings */
#define EXIT_FAILED		3		/* a migration, down script or dry run failed */
#define EXIT_REFUSED	4		/* refused before running anything (bad files, mixed file, leftover index, ...) */
#define EXIT_SERVER		5		/* cannot connect, extension missing, unexpected server error */
#define EXIT_USAGE		64		/* bad command line */

/* the SQLSTATE migrate.apply raises for a statement that cannot run in a transaction */
#define SQLSTATE_NON_TRANSACTIONAL "MG006"

/* command-line options */
static const char *opt_host;
static const char *opt_port;
static const char *opt_user;
static const char *opt_dbname;
static bool opt_json;
static bool opt_quiet;
static bool opt_verbose;
static bool opt_retry;
static bool opt_out_of_order;
static const char *opt_target;

/*
 * Small helpers: memory, strings, errors
 */

/* A growable string. */
typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buf;

static void buf_append(Buf *b, const char *s, size_t n);
static void buf_printf(Buf *b, const char *fmt,...) __attribute__((format(printf, 2, 3)));
static void json_quote(Buf *b, const char *s);

/* Print an error and exit with code. */
static void
die(int code, const char *fmt,...)
__attribute__((format(printf, 2, 3), noreturn));

static void
die(int code, const char *fmt,...)
{
	va_list		ap;

	char		msg[8192];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "pg_migrate: error: %s\n", msg);
	if (opt_json)
	{
		/* the document of a command that could not run: the error and the exit code */
		Buf			b = {0};
		const char *head = "{\"error\":{\"message\":";

		/* (not the terminating zero: the message would be cut off after it) */
		buf_append(&b, head, strlen(head));
		json_quote(&b, msg);
		buf_printf(&b, "},\"exit_code\":%d}\n", code);
		fputs(b.data, stdout);
	}
	exit(code);
}

/* malloc or die. */
static void *
xmalloc(size_t n)
{
	void	   *p = calloc(1, n ? n : 1);

	if (p == NULL)
		die(EXIT_SERVER, "out of memory");
	return p;
}

/* realloc or die. */
static void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		die(EXIT_SERVER, "out of memory");
	return p;
}

/* strdup or die. */
static char *
xstrdup(const char *s)
{
	char	   *r = xmalloc(strlen(s) + 1);

	strcpy(r, s);
	return r;
}

/* Append n bytes to a Buf. */
static void
buf_append(Buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap)
	{
		b->cap = (b->len + n + 1) * 2;
		b->data = xrealloc(b->data, b->cap);
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* Append a formatted string to a Buf. */
static void
buf_printf(Buf *b, const char *fmt,...)
{
	va_list		ap;
	char		small[512];
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < (int) sizeof(small))
	{
		buf_append(b, small, n);
		return;
	}
	{
		char	   *big = xmalloc(n + 1);

		va_start(ap, fmt);
		vsnprintf(big, n + 1, fmt, ap);
		va_end(ap);
		buf_append(b, big, n);
		free(big);
	}
}

/* The contents of a Buf ("" when empty). */
static const char *
buf_str(Buf *b)
{
	return b->data ? b->data : "";
}

/* Milliseconds on a monotonic clock. */
static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* Format a duration for people: "12.3 ms" or "4.56 s". */
static const char *
fmt_duration(double ms)
{
	static char buf[4][32];
	static int	i;

	i = (i + 1) % 4;
	if (ms < 1000)
		snprintf(buf[i], sizeof(buf[i]), "%.1f ms", ms);
	else
		snprintf(buf[i], sizeof(buf[i]), "%.2f s", ms / 1000);
	return buf[i];
}

/*
 * JSON output: a writer that keeps track of commas.  Every command builds
 * one document on stdout with --json.
 */
static Buf json;
static bool json_need_comma;
/* the closing brackets of the objects and arrays open, innermost last */
static char json_stack[64];
static int	json_depth;

/* Append a JSON string literal. */
static void
json_quote(Buf *b, const char *s)
{
	const unsigned char *p;

	if (s == NULL)
	{
		buf_append(b, "null", 4);
		return;
	}
	buf_append(b, "\"", 1);
	for (p = (const unsigned char *) s; *p; p++)
	{
		switch (*p)
		{
			case '"':
				buf_append(b, "\\\"", 2);
				break;
			case '\\':
				buf_append(b, "\\\\", 2);
				break;
			case '\n':
				buf_append(b, "\\n", 2);
				break;
			case '\r':
				buf_append(b, "\\r", 2);
				break;
			case '\t':
				buf_append(b, "\\t", 2);
				break;
			default:
				if (*p < 0x20)
					buf_printf(b, "\\u%04x", *p);
				else
					buf_append(b, (const char *) p, 1);
		}
	}
	buf_append(b, "\"", 1);
}

/* Start a member ("key": ) or an array element. */
static void
json_sep(const char *key)
{
	if (json_need_comma)
		buf_append(&json, ",", 1);
	if (key)
	{
		json_quote(&json, key);
		buf_append(&json, ":", 1);
	}
	json_need_comma = true;
}

/* Open an object or array. */
static void
json_open(const char *key, char bracket)
{
	json_sep(key);
	buf_append(&json, &bracket, 1);
	json_need_comma = false;
	if (json_depth < (int) sizeof(json_stack))
		json_stack[json_depth] = bracket == '{' ? '}' : ']';
	json_depth++;
}

/* Close an object or array. */
static void
json_close(char bracket)
{
	buf_append(&json, &bracket, 1);
	json_need_comma = true;
	if (json_depth > 0)
		json_depth--;
}

/* Close the objects and arrays open until depth of them are left. */
static void
json_unwind(int depth)
{
	while (json_depth > depth && json_depth <= (int) sizeof(json_stack))
		json_close(json_stack[json_depth - 1]);
}

/* A string member (NULL: null). */
static void
json_str(const char *key, const char *val)
{
	json_sep(key);
	json_quote(&json, val);
}

/* A member whose value is raw JSON (a number, true, false, or a document). */
static void
json_raw(const char *key, const char *val)
{
	json_sep(key);
	if (val == NULL || *val == '\0')
		buf_append(&json, "null", 4);
	else
		buf_append(&json, val, strlen(val));
}

/* An integer member. */
static void
json_int(const char *key, long val)
{
	char		tmp[32];

	snprintf(tmp, sizeof(tmp), "%ld", val);
	json_raw(key, tmp);
}

/* A number member with milliseconds. */
static void
json_ms(const char *key, double ms)
{
	char		tmp[32];

	snprintf(tmp, sizeof(tmp), "%.3f", ms);
	json_raw(key, tmp);
}

/* A boolean member. */
static void
json_bool(const char *key, bool val)
{
	json_raw(key, val ? "true" : "false");
}

/* Print the JSON document. */
static void
json_flush(void)
{
	if (opt_json)
	{
		fputs(buf_str(&json), stdout);
		fputc('\n', stdout);
		fflush(stdout);
	}
}

/* Human output: to stdout, nothing with --json. */
static void
say(const char *fmt,...)
__attribute__((format(printf, 1, 2)));

static void
say(const char *fmt,...)
{
	va_list		ap;

	if (opt_json)
		return;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/* Progress: stdout normally, stderr with --json, nothing with --quiet. */
static void
progress(const char *fmt,...)
__attribute__((format(printf, 1, 2)));

static void
progress(const char *fmt,...)
{
	va_list		ap;
	FILE	   *out = opt_json ? stderr : stdout;

	if (opt_quiet)
		return;
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fflush(out);
}

/*
 * Connections and queries
 */

/*
 * Notices (lint warnings of migrate.apply, ...) go to stderr unless --quiet;
 * while a progress line is open they are held and printed after it.
 */
static Buf held_notices;
static bool hold_notices;

/* libpq notice processor. */
static void
notice_processor(void *arg __attribute__((unused)), const char *message)
{
	if (opt_quiet)
		return;
	if (hold_notices)
		buf_append(&held_notices, message, strlen(message));
	else
		fprintf(stderr, "%s", message);
}

/* Print the notices held during a progress line, indented. */
static void
flush_notices(void)
{
	const char *p = buf_str(&held_notices);

	hold_notices = false;
	if (held_notices.len == 0)
		return;
	fflush(stdout);
	while (*p)
	{
		const char *eol = strchr(p, '\n');
		int			len = eol ? (int) (eol - p) : (int) strlen(p);

		fprintf(stderr, "    %.*s\n", len, p);
		p += len + (eol ? 1 : 0);
	}
	held_notices.len = 0;
	held_notices.data[0] = '\0';
}

/* Connect to a database given by name or connection string; exit 5 on failure. */
static PGconn *
connect_db(const char *dbname)
{
	const char *keys[8];
	const char *vals[8];
	int			n = 0;
	PGconn	   *conn;
	PGresult   *res;

	if (opt_host)
	{
		keys[n] = "host";
		vals[n++] = opt_host;
	}
	if (opt_port)
	{
		keys[n] = "port";
		vals[n++] = opt_port;
	}
	if (opt_user)
	{
		keys[n] = "user";
		vals[n++] = opt_user;
	}
	if (dbname)
	{
		keys[n] = "dbname";
		vals[n++] = dbname;
	}
	keys[n] = "fallback_application_name";
	vals[n++] = "pg_migrate";
	keys[n] = NULL;
	vals[n] = NULL;
	conn = PQconnectdbParams(keys, vals, 1);
	/* name the database as libpq parsed it: a connection string may hold a password */
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
		die(EXIT_SERVER, "could not connect to database \"%s\": %s",
			conn && PQdb(conn) ? PQdb(conn) : "?", conn ? PQerrorMessage(conn) : "out of memory");
	PQsetNoticeProcessor(conn, notice_processor, NULL);

	res = PQexec(conn, "SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'migrate_ext'");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		die(EXIT_SERVER, "could not query database \"%s\": %s", PQdb(conn), PQerrorMessage(conn));
	if (PQntuples(res) == 0)
		die(EXIT_SERVER, "the extension migrate_ext is not installed in database \"%s\"\n"
			"hint: run CREATE EXTENSION migrate_ext; in it (as a superuser or the database owner)", PQdb(conn));
	PQclear(res);
	return conn;
}

/* Print a server error with its detail, hint and context to stderr. */
static void
print_server_error(const PGresult *res, const char *prefix)
{
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
	const char *context = PQresultErrorField(res, PG_DIAG_CONTEXT);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	fprintf(stderr, "pg_migrate: error: %s%s%s [%s]\n", prefix ? prefix : "", prefix ? ": " : "",
			msg ? msg : PQresultErrorMessage(res), state ? state : "?");
	if (detail)
		fprintf(stderr, "detail: %s\n", detail);
	if (hint)
		fprintf(stderr, "hint: %s\n", hint);
	if (context)
	{
		/* the statement context is useful; the extension's own PL/pgSQL frames are not */
		const char *p = context;

		while (*p)
		{
			const char *eol = strchr(p, '\n');
			int			len = eol ? (int) (eol - p) : (int) strlen(p);

			if (strncmp(p, "PL/pgSQL function migrate.", 26) != 0 && strncmp(p, "SQL function \"", 14) != 0)
				fprintf(stderr, "context: %.*s\n", len, p);
			p += len + (eol ? 1 : 0);
		}
	}
}

/* Add an "error" object describing a server error to the JSON document. */
static void
json_server_error(const PGresult *res)
{
	json_open("error", '{');
	json_str("sqlstate", PQresultErrorField(res, PG_DIAG_SQLSTATE));
	json_str("message", PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
	json_str("detail", PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL));
	json_str("hint", PQresultErrorField(res, PG_DIAG_MESSAGE_HINT));
	json_str("context", PQresultErrorField(res, PG_DIAG_CONTEXT));
	json_close('}');
}

/* Run a parameterized query (text parameters and results). */
static PGresult *
query(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	return PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
}

/* Run a query that must succeed; exit 5 with the server's error otherwise. */
static PGresult *
query_ok(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult   *res = query(conn, sql, nparams, params);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
	{
		print_server_error(res, NULL);
		if (opt_json)
		{
			/*
			 * an error before the command opened its document (compare), or
			 * inside one of its arrays (a list of migrations): the error goes
			 * in the document itself
			 */
			if (json_depth == 0)
				json_open(NULL, '{');
			else
				json_unwind(1);
			json_server_error(res);
			json_unwind(0);
			json_flush();
		}
		exit(EXIT_SERVER);
	}
	return res;
}

/* A field or NULL when the value is NULL. */
static const char *
field(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* Build a text[] literal from strings (for $n::text[] parameters). */
static char *
text_array(char **items, int n)
{
	Buf			b = {0};
	int			i;

	buf_append(&b, "{", 1);
	for (i = 0; i < n; i++)
	{
		const char *p;

		if (i > 0)
			buf_append(&b, ",", 1);
		buf_append(&b, "\"", 1);
		for (p = items[i]; *p; p++)
		{
			if (*p == '"' || *p == '\\')
				buf_append(&b, "\\", 1);
			buf_append(&b, p, 1);
		}
		buf_append(&b, "\"", 1);
	}
	buf_append(&b, "}", 1);
	return b.data;
}

/*
 * Migration files
 */

/* One section of a migration file. */
typedef struct Section
{
	char	   *text;			/* NULL: the file has no such section */
	int			first_line;		/* line of the file where the section's text starts */
} Section;

/* One migration file. */
typedef struct MigrationFile
{
	char	   *path;
	char	   *version;
	char	   *name;
	Section		up;
	Section		down;
	Section		verify;
	bool		no_transaction; /* -- migrate:no-transaction */
	char	   *requires;		/* text[] literal from -- requires: lines */
	char	   *checksum;		/* of the up section, from the server */
} MigrationFile;

/* Read a whole file; NULL with errno set on failure. */
static char *
read_file(const char *path)
{
	FILE	   *f = fopen(path, "rb");
	Buf			b = {0};
	char		chunk[65536];
	size_t		n;

	if (f == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	if (ferror(f))
	{
		fclose(f);
		return NULL;
	}
	fclose(f);
	if (b.data == NULL)
		b.data = xstrdup("");
	if (strlen(b.data) != b.len)
		die(EXIT_REFUSED, "file \"%s\" contains a zero byte; migration files are SQL text", path);
	return b.data;
}

/*
 * Is this line a "-- migrate:<word>" marker?  Returns the word's length and
 * sets *word, or 0.
 */
static int
marker_word(const char *line, const char **word)
{
	const char *p = line;
	int			n;

	while (*p == ' ' || *p == '\t')
		p++;
	if (strncmp(p, "--", 2) != 0)
		return 0;
	p += 2;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncmp(p, "migrate:", 8) != 0)
		return 0;
	p += 8;
	while (*p == ' ' || *p == '\t')
		p++;
	for (n = 0; p[n] && (isalnum((unsigned char) p[n]) || p[n] == '-' || p[n] == '_'); n++)
		;
	*word = p;
	return n;
}

/* Cut trailing blanks (spaces, tabs, line ends) off a string in place. */
static void
trim_trailing_blanks(char *s)
{
	size_t		n = strlen(s);

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
}

/* Append text to a section, noting where it starts. */
static void
section_add(Section *s, Buf *b, const char *line, size_t len, int lineno)
{
	if (b->data == NULL)
		s->first_line = lineno;
	buf_append(b, line, len);
}

/*
 * Split a file into its sections (-- migrate:up / down / verify markers;
 * text before the first marker, or a file without markers, is "up") and
 * collect "-- migrate:no-transaction" and "-- requires: a, b" lines.
 */
static void
parse_sections(MigrationFile *mf, const char *text)
{
	Buf			bufs[3] = {{0}};
	Section    *secs[3] = {&mf->up, &mf->down, &mf->verify};
	bool		seen[3] = {false, false, false};
	int			cur = 0;
	int			lineno = 0;
	const char *p = text;
	char	   *reqs[256];
	int			nreqs = 0;
	int			i;

	while (*p)
	{
		const char *eol = strchr(p, '\n');
		size_t		len = eol ? (size_t) (eol - p + 1) : strlen(p);
		const char *word;
		int			wl;

		lineno++;
		wl = marker_word(p, &word);
		if (wl > 0)
		{
			int			next = -1;

			if (wl == 2 && strncmp(word, "up", 2) == 0)
				next = 0;
			else if (wl == 4 && strncmp(word, "down", 4) == 0)
				next = 1;
			else if (wl == 6 && strncmp(word, "verify", 6) == 0)
				next = 2;
			else if (wl == 14 && strncmp(word, "no-transaction", 14) == 0)
				mf->no_transaction = true;
			else if (wl == 5 && strncmp(word, "allow", 5) == 0)
				wl = 0;			/* a lint suppression comment: part of the script */
			else
				die(EXIT_REFUSED, "%s:%d: unknown marker \"-- migrate:%.*s\"\n"
					"hint: the markers are -- migrate:up, -- migrate:down, -- migrate:verify and -- migrate:no-transaction",
					mf->path, lineno, wl, word);
			if (next >= 0)
			{
				if (seen[next] && next != 0)
					die(EXIT_REFUSED, "%s:%d: a second \"-- migrate:%.*s\" section", mf->path, lineno, wl, word);
				if (next == 0 && seen[0])
					die(EXIT_REFUSED, "%s:%d: a second \"-- migrate:up\" section", mf->path, lineno);
				seen[next] = true;
				cur = next;
			}
			if (wl > 0)
			{
				p += len;
				continue;
			}
		}
		/* -- requires: v1, v2 */
		{
			const char *q = p;

			while (*q == ' ' || *q == '\t')
				q++;
			if (strncmp(q, "-- requires:", 12) == 0)
			{
				char	   *list = strndup(q + 12, len - (q + 12 - p));
				char	   *save = NULL;
				char	   *tok;

				for (tok = strtok_r(list, ", \t\r\n", &save); tok; tok = strtok_r(NULL, ", \t\r\n", &save))
				{
					if (nreqs >= 256)
						die(EXIT_REFUSED, "%s:%d: more than 256 required versions", mf->path, lineno);
					reqs[nreqs++] = xstrdup(tok);
				}
				free(list);
			}
		}
		section_add(secs[cur], &bufs[cur], p, len, lineno);
		p += len;
	}
	for (i = 0; i < 3; i++)
	{
		/*
		 * A section of only blanks is no section.  Trailing blanks are cut,
		 * so blank lines before the next marker (or a file's final newline)
		 * do not change the checksum.
		 */
		if (bufs[i].data && bufs[i].data[strspn(bufs[i].data, " \t\r\n")] != '\0')
		{
			trim_trailing_blanks(bufs[i].data);
			secs[i]->text = bufs[i].data;
		}
		else
			free(bufs[i].data);
	}
	mf->requires = text_array(reqs, nreqs);
	for (i = 0; i < nreqs; i++)
		free(reqs[i]);
}

/* Does path end with suffix? */
static bool
ends_with(const char *s, const char *suffix)
{
	size_t		n = strlen(s);
	size_t		m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Read a companion file (<base>.down.sql, <base>.verify.sql) into a section when present. */
static void
read_companion(Section *s, const char *dir, const char *base, const char *suffix)
{
	char	   *path = xmalloc(strlen(dir) + strlen(base) + strlen(suffix) + 2);
	char	   *text;

	sprintf(path, "%s/%s%s", dir, base, suffix);
	text = read_file(path);
	if (text == NULL && errno != ENOENT)
		die(EXIT_REFUSED, "could not read \"%s\": %s", path, strerror(errno));
	if (text && s->text)
		die(EXIT_REFUSED, "\"%s\" and a section in \"%s/%s.sql\" both give the same script; keep one",
			path, dir, base);
	if (text && text[strspn(text, " \t\r\n")] != '\0')
	{
		trim_trailing_blanks(text);
		s->text = text;
		s->first_line = 1;
	}
	else
		free(text);
	free(path);
}

/* Load one migration file (path is dir/name). */
static MigrationFile *
load_file(const char *dir, const char *fname)
{
	MigrationFile *mf = xmalloc(sizeof(MigrationFile));
	const char *sep = strstr(fname, "__");
	char	   *text;
	char	   *base;

	mf->path = xmalloc(strlen(dir) + strlen(fname) + 2);
	sprintf(mf->path, "%s/%s", dir, fname);
	if (sep == NULL || sep == fname)
		die(EXIT_REFUSED, "\"%s\" is not named <version>__<name>.sql", mf->path);
	mf->version = strndup(fname, sep - fname);
	mf->name = strndup(sep + 2, strlen(sep + 2) - 4);
	if (mf->name[0] == '\0')
		die(EXIT_REFUSED, "\"%s\" has no name after the double underscore", mf->path);
	text = read_file(mf->path);
	if (text == NULL)
		die(EXIT_REFUSED, "could not read \"%s\": %s", mf->path, strerror(errno));
	parse_sections(mf, text);
	free(text);
	base = strndup(fname, strlen(fname) - 4);
	read_companion(&mf->down, dir, base, ".down.sql");
	read_companion(&mf->verify, dir, base, ".verify.sql");
	free(base);
	if (mf->up.text == NULL)
		die(EXIT_REFUSED, "\"%s\" has no up script (no SQL outside the down and verify sections)", mf->path);
	return mf;
}

/* A folder's migration files. */
typedef struct FileSet
{
	MigrationFile **files;
	int			n;
} FileSet;

/* qsort comparator for file names. */
static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * Load every <version>__<name>.sql of dir (not the .down.sql and
 * .verify.sql companions); duplicate versions are refused.
 */
static FileSet
load_dir(const char *dir)
{
	DIR		   *d = opendir(dir);
	struct dirent *de;
	char	  **names = NULL;
	int			n = 0;
	FileSet		fs = {0};
	int			i,
				j;

	if (d == NULL)
		die(EXIT_USAGE, "could not open directory \"%s\": %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL)
	{
		const char *nm = de->d_name;

		if (nm[0] == '.' || !ends_with(nm, ".sql") || strstr(nm, "__") == NULL)
			continue;
		if (ends_with(nm, ".down.sql") || ends_with(nm, ".verify.sql"))
			continue;
		names = xrealloc(names, sizeof(char *) * (n + 1));
		names[n++] = xstrdup(nm);
	}
	closedir(d);
	qsort(names, n, sizeof(char *), cmp_names);
	fs.files = xmalloc(sizeof(MigrationFile *) * (n + 1));
	for (i = 0; i < n; i++)
	{
		fs.files[i] = load_file(dir, names[i]);
		for (j = 0; j < i; j++)
			if (strcmp(fs.files[j]->version, fs.files[i]->version) == 0)
				die(EXIT_REFUSED, "version %s is in two files: \"%s\" and \"%s\"\n"
					"hint: every migration needs its own version",
					fs.files[i]->version, fs.files[j]->path, fs.files[i]->path);
		free(names[i]);
	}
	free(names);
	fs.n = n;
	return fs;
}

/*
 * The plan: files and recorded migrations merged in natural version order
 */

typedef enum EntryState
{
	ST_APPLIED,
	ST_BASELINED,
	ST_PENDING,
	ST_OUT_OF_ORDER,			/* pending, older than an applied migration */
	ST_FILE_MISSING,			/* applied, no file */
	ST_CHECKSUM_DIFFERS,		/* applied, file changed since */
	ST_REVERTED_NO_FILE,		/* reverted, no file */
	ST_BELOW_BASELINE			/* a file older than the baseline: counts as applied */
} EntryState;

#define NUM_STATES 8

static const char *const state_names[NUM_STATES] = {
	"applied", "baselined", "pending", "out-of-order",
	"applied-but-file-missing", "checksum-differs", "reverted", "below-baseline"
};

/* One version of the plan. */
typedef struct Entry
{
	const char *version;
	const char *name;
	MigrationFile *file;		/* NULL: no file */
	const char *rec_state;		/* recorded state, NULL: not recorded */
	const char *rec_checksum;
	const char *applied_at;
	const char *applied_order; /* position in apply order (for down) */
	bool		rec_out_of_order;
	EntryState	state;
} Entry;

typedef struct Plan
{
	Entry	   *e;
	int			n;
	PGresult   *res;			/* owns the recorded strings */
} Plan;

/*
 * Merge the files with migrate.status() on the server, which also computes
 * the files' checksums and orders versions with migrate.version_key.
 */
static Plan
make_plan(PGconn *conn, FileSet *fs)
{
	char	  **versions = xmalloc(sizeof(char *) * (fs->n + 1));
	char	  **scripts = xmalloc(sizeof(char *) * (fs->n + 1));
	const char *params[2];
	Plan		plan = {0};
	int			i;
	int			last_applied = -1;
	int			last_baseline = -1;

	for (i = 0; i < fs->n; i++)
	{
		versions[i] = fs->files[i]->version;
		scripts[i] = fs->files[i]->up.text;
	}
	params[0] = text_array(versions, fs->n);
	params[1] = text_array(scripts, fs->n);
	plan.res = query_ok(conn,
						"SELECT COALESCE(f.version, s.version), f.ord, migrate.checksum(f.script), s.name, s.state,"
						"       s.checksum, s.out_of_order, s.applied_at,"
						"       rank() OVER (ORDER BY s.applied_at, s.version) "
						"  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS f(version, script, ord)"
						"  FULL JOIN migrate.status() s ON s.version = f.version "
						" ORDER BY migrate.version_key(COALESCE(f.version, s.version))",
						2, params);
	free((char *) params[0]);
	free((char *) params[1]);
	free(versions);
	free(scripts);

	plan.n = PQntuples(plan.res);
	plan.e = xmalloc(sizeof(Entry) * (plan.n + 1));
	for (i = 0; i < plan.n; i++)
	{
		Entry	   *e = &plan.e[i];

		e->version = field(plan.res, i, 0);
		if (field(plan.res, i, 1))
		{
			e->file = fs->files[atoi(field(plan.res, i, 1)) - 1];
			e->file->checksum = PQgetvalue(plan.res, i, 2);
			e->name = e->file->name;
		}
		e->rec_state = field(plan.res, i, 4);
		if (e->rec_state)
			e->name = field(plan.res, i, 3);
		e->rec_checksum = field(plan.res, i, 5);
		e->rec_out_of_order = field(plan.res, i, 6) && strcmp(field(plan.res, i, 6), "t") == 0;
		e->applied_at = field(plan.res, i, 7);
		e->applied_order = field(plan.res, i, 8);
		if (e->rec_state && (strcmp(e->rec_state, "applied") == 0 || strcmp(e->rec_state, "baselined") == 0))
			last_applied = i;
		if (e->rec_state && strcmp(e->rec_state, "baselined") == 0)
			last_baseline = i;
	}
	for (i = 0; i < plan.n; i++)
	{
		Entry	   *e = &plan.e[i];
		bool		applied = e->rec_state && strcmp(e->rec_state, "applied") == 0;
		bool		baselined = e->rec_state && strcmp(e->rec_state, "baselined") == 0;

		if (applied || baselined)
		{
			if (e->file == NULL)
				e->state = ST_FILE_MISSING;
			else if (applied && e->rec_checksum && strcmp(e->rec_checksum, e->file->checksum) != 0)
				e->state = ST_CHECKSUM_DIFFERS;
			else
				e->state = applied ? ST_APPLIED : ST_BASELINED;
		}
		else if (e->file == NULL)
			e->state = ST_REVERTED_NO_FILE;
		else if (e->rec_state == NULL && i < last_baseline)
			e->state = ST_BELOW_BASELINE;	/* migrate.apply says already_applied */
		else
			e->state = i < last_applied ? ST_OUT_OF_ORDER : ST_PENDING;
	}
	return plan;
}

/* Is a plan entry applied (or baselined) in the database? */
static bool
is_applied(const Entry *e)
{
	return e->state == ST_APPLIED || e->state == ST_BASELINED || e->state == ST_BELOW_BASELINE ||
		e->state == ST_FILE_MISSING || e->state == ST_CHECKSUM_DIFFERS;
}

/* Is a plan entry waiting to be applied? */
static bool
is_pending(const Entry *e)
{
	return e->state == ST_PENDING || e->state == ST_OUT_OF_ORDER;
}

/* Does the version come after the target (--target)? */
static bool
beyond_target(PGconn *conn, const char *version)
{
	const char *params[2] = {version, opt_target};
	PGresult   *res;
	bool		beyond;

	if (opt_target == NULL)
		return false;
	res = query_ok(conn, "SELECT migrate.version_compare($1, $2) > 0", 2, params);
	beyond = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return beyond;
}

/*
 * The statements of a script, from migrate.script_statements
 */

typedef struct Stmt
{
	int			no;
	int			line;
	const char *command;
	const char *klass;
	const char *why;
	const char *index_name;
	const char *table_name;
	const char *sql;
} Stmt;

typedef struct StmtList
{
	Stmt	   *s;
	int			n;
	PGresult   *res;
} StmtList;

/* Split a script into classified statements on the server. */
static StmtList
split_script(PGconn *conn, const char *script, const char *path, int *failed)
{
	const char *params[1] = {script};
	StmtList	sl = {0};
	int			i;

	sl.res = query(conn,
				   "SELECT statement_no, line, command, statement_class, why, index_name, table_name, statement"
				   "  FROM migrate.script_statements($1)", 1, params);
	if (PQresultStatus(sl.res) != PGRES_TUPLES_OK)
	{
		print_server_error(sl.res, path);
		*failed = 1;
		return sl;
	}
	*failed = 0;
	sl.n = PQntuples(sl.res);
	sl.s = xmalloc(sizeof(Stmt) * (sl.n + 1));
	for (i = 0; i < sl.n; i++)
	{
		sl.s[i].no = atoi(PQgetvalue(sl.res, i, 0));
		sl.s[i].line = atoi(PQgetvalue(sl.res, i, 1));
		sl.s[i].command = field(sl.res, i, 2);
		sl.s[i].klass = field(sl.res, i, 3);
		sl.s[i].why = field(sl.res, i, 4);
		sl.s[i].index_name = field(sl.res, i, 5);
		sl.s[i].table_name = field(sl.res, i, 6);
		sl.s[i].sql = field(sl.res, i, 7);
	}
	return sl;
}

/* Free a statement list. */
static void
free_stmts(StmtList *sl)
{
	PQclear(sl->res);
	free(sl->s);
}

/*
 * The INVALID index a failed CREATE INDEX CONCURRENTLY left behind, as a
 * qualified name, or NULL.  Unnamed indexes are found by comparing the
 * table's invalid indexes with those it had before (before: a text[]
 * literal, or NULL to take any).
 */
static char *
find_invalid_index(PGconn *conn, const Stmt *st, const char *before)
{
	const char *params[3] = {st->index_name, st->table_name, before};
	PGresult   *res;
	char	   *name = NULL;

	res = query(conn,
				"SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)"
				"  FROM pg_catalog.pg_index i"
				"  JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid"
				"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
				" WHERE NOT i.indisvalid AND i.indrelid = pg_catalog.to_regclass($2::text)"
				"   AND ($1::text IS NULL OR c.relname = $1::text)"
				"   AND ($3::text[] IS NULL OR pg_catalog.format('%I.%I', n.nspname, c.relname) <> ALL ($3::text[]))"
				/* not an index another session is building right now */
				"   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_progress_create_index p"
				"                    WHERE p.index_relid = i.indexrelid)"
				" ORDER BY c.oid DESC LIMIT 1", 3, params);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		name = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return name;
}

/* The table's INVALID indexes now, as a text[] literal. */
static char *
invalid_indexes(PGconn *conn, const Stmt *st)
{
	const char *params[1] = {st->table_name};
	PGresult   *res;
	char	   *arr;

	res = query(conn,
				"SELECT COALESCE(pg_catalog.array_agg(pg_catalog.format('%I.%I', n.nspname, c.relname)), '{}')::text"
				"  FROM pg_catalog.pg_index i"
				"  JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid"
				"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
				" WHERE NOT i.indisvalid AND i.indrelid = pg_catalog.to_regclass($1::text)", 1, params);
	arr = xstrdup(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "{}");
	PQclear(res);
	return arr;
}

/* Run a command that must succeed on the session; false and a message otherwise. */
static bool
exec_simple(PGconn *conn, const char *sql, const char *what)
{
	PGresult   *res = PQexec(conn, sql);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
		print_server_error(res, what);
	PQclear(res);
	return ok;
}

/* Outcome of one migration. */
typedef struct Outcome
{
	const char *result;			/* applied, recorded, already_applied, ... */
	double		ms;
	int			exit_code;		/* EXIT_OK or the failure's code */
	PGresult   *error;			/* the server's error, when one */
	const Stmt *failed_stmt;	/* the statement that failed (non-transactional runs) */
	char	   *invalid_index;	/* a leftover INVALID index */
	char	   *message;		/* a client-side refusal */
	bool		non_transactional;
} Outcome;

/*
 * The exit code for a server error of apply/revert/record: the checks that
 * refuse a migration before anything runs give 4, anything else 3.
 */
static int
server_error_code(const PGresult *res)
{
	static const char *const refusals[] = {
		"MG001",				/* applied with another checksum */
		"MG002",				/* requirement not applied */
		"MG003",				/* out of order */
		"MG005",				/* transaction control */
		"MG008",				/* no down script */
		"MG009",				/* required by applied migrations */
		"MG010",				/* not recorded / not applied */
		"MG014",				/* unsupported statement */
		"MG015",				/* lint policy */
		NULL
	};
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	int			i;

	for (i = 0; state && refusals[i]; i++)
		if (strcmp(state, refusals[i]) == 0)
			return EXIT_REFUSED;
	return EXIT_FAILED;
}

/* Refuse a migration with a message (stored for output). */
static void
refuse(Outcome *o, int code, const char *fmt,...)
__attribute__((format(printf, 3, 4)));

static void
refuse(Outcome *o, int code, const char *fmt,...)
{
	va_list		ap;
	Buf			b = {0};
	char		tmp[4096];

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	buf_append(&b, tmp, strlen(tmp));
	o->message = b.data;
	o->exit_code = code;
}

/* Set the session's lock_timeout and statement_timeout to the migration's. */
static bool
set_migration_timeouts(PGconn *conn)
{
	return exec_simple(conn,
					   "SELECT pg_catalog.set_config('lock_timeout', pg_catalog.current_setting('migrate.lock_timeout'), false),"
					   "       pg_catalog.set_config('statement_timeout', pg_catalog.current_setting('migrate.statement_timeout'), false)",
					   "setting the migration's timeouts");
}

/*
 * Mark (version) or unmark (NULL) the session's next statements as the
 * migration's, so the server's DDL ledger counts them as in band.
 */
static bool
mark_client_migration(PGconn *conn, const char *version)
{
	const char *params[1] = {version};
	PGresult   *res = query(conn, "SELECT migrate.client_migration($1)", 1, params);
	bool		ok = PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
		print_server_error(res, "marking the statements as the migration's");
	PQclear(res);
	return ok;
}

/* Put the session's timeouts back. */
static void
reset_timeouts(PGconn *conn)
{
	exec_simple(conn, "RESET lock_timeout; RESET statement_timeout", "resetting timeouts");
}

/*
 * Check a non-transactional script before running it: classes, mixing,
 * leftover INVALID indexes (dropped with --retry).  False: refused, o set.
 */
static bool
check_non_transactional(PGconn *conn, MigrationFile *mf, const Section *sec, StmtList *sl, Outcome *o)
{
	int			i;
	int			n_non = 0;
	int			n_txn = 0;
	Buf			txn = {0};
	Buf			non = {0};

	for (i = 0; i < sl->n; i++)
	{
		Stmt	   *st = &sl->s[i];

		if (strcmp(st->klass, "transaction_control") == 0 || strcmp(st->klass, "unsupported") == 0)
		{
			refuse(o, EXIT_REFUSED, "%s:%d: %s cannot run in a migration (statement %d); nothing was run",
				   mf->path, sec->first_line + st->line - 1, st->why ? st->why : st->command, st->no);
			return false;
		}
		if (strcmp(st->klass, "non_transactional") == 0)
		{
			n_non++;
			buf_printf(&non, "\n  line %d: %s", sec->first_line + st->line - 1, st->why);
		}
		else if (strcmp(st->command, "SET") != 0 && strcmp(st->command, "RESET") != 0)
		{
			n_txn++;
			buf_printf(&txn, "\n  line %d: %s", sec->first_line + st->line - 1, st->command);
		}
	}
	if (n_non > 0 && n_txn > 0 && !mf->no_transaction)
	{
		refuse(o, EXIT_REFUSED,
			   "%s mixes statements that cannot run in a transaction block:%s\n"
			   "with statements that should run in one:%s\n"
			   "A failure half way would leave the transactional part applied without a record; nothing was run.\n"
			   "hint: split the file into two migrations, or mark it \"-- migrate:no-transaction\" to run every statement on its own, outside a transaction",
			   mf->path, buf_str(&non), buf_str(&txn));
		free(non.data);
		free(txn.data);
		return false;
	}
	free(non.data);
	free(txn.data);

	/*
	 * A failed CREATE INDEX CONCURRENTLY of an earlier run leaves an INVALID
	 * index: the named one, or for an unnamed index any INVALID index on the
	 * table that no session is building.
	 */
	for (i = 0; i < sl->n; i++)
	{
		Stmt	   *st = &sl->s[i];
		char	   *leftover;
		int			dropped = 0;

		if (st->table_name == NULL)
			continue;
		while ((leftover = find_invalid_index(conn, st, NULL)) != NULL)
		{
			Buf			drop = {0};

			if (!opt_retry)
			{
				o->invalid_index = leftover;
				refuse(o, EXIT_REFUSED,
					   "index %s on %s is INVALID: an earlier CREATE INDEX CONCURRENTLY (%s line %d) failed and left it behind; nothing was run\n"
					   "hint: run again with --retry to drop it with DROP INDEX CONCURRENTLY and build it again",
					   leftover, st->table_name, mf->path, sec->first_line + st->line - 1);
				return false;
			}
			if (dropped++ >= 20)
			{
				refuse(o, EXIT_FAILED, "INVALID index %s on %s is still there after DROP INDEX CONCURRENTLY",
					   leftover, st->table_name);
				return false;
			}
			buf_printf(&drop, "DROP INDEX CONCURRENTLY IF EXISTS %s", leftover);
			progress("dropping INVALID index %s (--retry) ... ", leftover);
			if (!set_migration_timeouts(conn) || !exec_simple(conn, drop.data, "dropping the INVALID index"))
			{
				refuse(o, EXIT_FAILED, "could not drop INVALID index %s", leftover);
				free(drop.data);
				return false;
			}
			reset_timeouts(conn);
			free(drop.data);
			free(leftover);
		}
	}
	return true;
}

/* Are the versions in a text[] literal of required versions all applied? */
static bool
requirements_met(Plan *plan, MigrationFile *mf, Outcome *o)
{
	char	   *list = xstrdup(mf->requires + 1);
	char	   *save = NULL;
	char	   *tok;

	list[strlen(list) - 1] = '\0';
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		bool		found = false;
		int			i;

		if (*tok == '"')
		{
			tok++;
			tok[strlen(tok) - 1] = '\0';
		}
		for (i = 0; i < plan->n; i++)
			if (strcmp(plan->e[i].version, tok) == 0 && is_applied(&plan->e[i]))
				found = true;
		if (!found)
		{
			refuse(o, EXIT_REFUSED, "migration %s requires %s, which is not applied; nothing was run",
				   mf->version, tok);
			free(list);
			return false;
		}
	}
	free(list);
	return true;
}

/*
 * Run a non-transactional migration: each statement on its own outside a
 * transaction with the migration's timeouts, then migrate.record_applied.
 */
static void
run_non_transactional_locked(PGconn *conn, Plan *plan, MigrationFile *mf, Outcome *o)
{
	StmtList	sl;
	int			failed;
	int			i;
	double		t0;
	Buf			details = {0};

	o->non_transactional = true;
	sl = split_script(conn, mf->up.text, mf->path, &failed);
	if (failed)
	{
		o->error = sl.res;
		o->exit_code = EXIT_FAILED;
		return;
	}
	if (!opt_out_of_order)
	{
		int			i;

		for (i = 0; i < plan->n; i++)
			if (plan->e[i].file == mf && plan->e[i].state == ST_OUT_OF_ORDER)
			{
				refuse(o, EXIT_REFUSED,
					   "migration %s is older than an applied migration; nothing was run\n"
					   "hint: run with --allow-out-of-order to apply it anyway (it is flagged out_of_order)",
					   mf->version);
				free_stmts(&sl);
				return;
			}
	}
	if (!requirements_met(plan, mf, o))
	{
		free_stmts(&sl);
		return;
	}
	/* the lint policy of migrate.apply (migrate.lint_level), before anything runs */
	{
		const char *params[2] = {mf->version, mf->up.text};
		PGresult   *res = query(conn, "SELECT migrate.lint_gate($1, $2)", 2, params);

		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			o->error = res;
			o->exit_code = server_error_code(res);
			free_stmts(&sl);
			return;
		}
		PQclear(res);
	}
	if (!mark_client_migration(conn, mf->version))
	{
		refuse(o, EXIT_SERVER, "could not mark the statements as migration %s's", mf->version);
		free_stmts(&sl);
		return;
	}
	if (!check_non_transactional(conn, mf, &mf->up, &sl, o) || !set_migration_timeouts(conn))
	{
		if (o->exit_code == EXIT_OK)
			refuse(o, EXIT_FAILED, "could not set the migration's timeouts");
		mark_client_migration(conn, NULL);
		free_stmts(&sl);
		return;
	}
	t0 = now_ms();
	for (i = 0; i < sl.n; i++)
	{
		Stmt	   *st = &sl.s[i];
		char	   *before = NULL;
		PGresult   *res;
		double		s0 = now_ms();

		if (st->table_name && st->index_name == NULL)
			before = invalid_indexes(conn, st);
		res = PQexec(conn, st->sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			o->error = res;
			o->failed_stmt = st;
			o->exit_code = EXIT_FAILED;
			o->ms = now_ms() - t0;
			if (st->table_name)
				o->invalid_index = find_invalid_index(conn, st, before);
			free(before);
			reset_timeouts(conn);
			mark_client_migration(conn, NULL);
			/* the statements stay alive in sl.res for the caller's message */
			return;
		}
		PQclear(res);
		free(before);
		if (opt_verbose)
			progress("    statement %d (%s) %s\n", st->no, st->command, fmt_duration(now_ms() - s0));
	}
	o->ms = now_ms() - t0;
	reset_timeouts(conn);
	if (!mark_client_migration(conn, NULL))
	{
		refuse(o, EXIT_SERVER, "could not unmark the statements of migration %s", mf->version);
		free_stmts(&sl);
		return;
	}

	buf_printf(&details, "{\"client\": \"pg_migrate\", \"file\": ");
	json_quote(&details, mf->path);
	buf_printf(&details, ", \"non_transactional\": true}");
	{
		char		ms[32];
		char		count[16];
		const char *params[9];
		PGresult   *res;

		snprintf(ms, sizeof(ms), "%.3f", o->ms);
		snprintf(count, sizeof(count), "%d", sl.n);
		params[0] = mf->version;
		params[1] = mf->name;
		params[2] = mf->up.text;
		params[3] = mf->down.text;
		params[4] = mf->verify.text;
		params[5] = mf->requires;
		params[6] = ms;
		params[7] = count;
		params[8] = details.data;
		res = query(conn,
					"SELECT migrate.record_applied($1, $2, migrate.checksum($3), $3, $4, $5, $6::text[],"
					" $7::double precision, $8::integer, $9::jsonb)", 9, params);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			o->error = res;
			o->exit_code = server_error_code(res);
		}
		else
		{
			o->result = xstrdup(PQgetvalue(res, 0, 0));
			PQclear(res);
		}
	}
	free(details.data);
	free_stmts(&sl);
}

/*
 * The non-transactional path, one client at a time: several pg_migrate
 * runs on one database would otherwise build the same index concurrently
 * and deadlock.  Under the lock, a migration another client recorded
 * meanwhile is already applied.
 */
static void
run_non_transactional(PGconn *conn, Plan *plan, MigrationFile *mf, Outcome *o)
{
	const char *lock = "SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtext('migrate_ext: pg_migrate non-transactional'))";
	const char *unlock = "SELECT pg_catalog.pg_advisory_unlock(pg_catalog.hashtext('migrate_ext: pg_migrate non-transactional'))";
	const char *params[1] = {mf->version};
	PGresult   *res;

	/*
	 * Polled, not waited for: a session waiting on a lock keeps a snapshot,
	 * and the CREATE INDEX CONCURRENTLY of the session holding it would wait
	 * for that snapshot in turn (a deadlock).
	 */
	for (int waits = 0;; waits++)
	{
		PGresult   *lr = PQexec(conn, lock);
		bool		got;

		if (PQresultStatus(lr) != PGRES_TUPLES_OK)
		{
			print_server_error(lr, "waiting for other pg_migrate runs");
			PQclear(lr);
			refuse(o, EXIT_SERVER, "could not take the lock of non-transactional migrations");
			return;
		}
		got = strcmp(PQgetvalue(lr, 0, 0), "t") == 0;
		PQclear(lr);
		if (got)
			break;
		if (waits == 0)
			progress("waiting for another pg_migrate's non-transactional migration ... ");
		usleep(waits < 10 ? 50000 : 250000);
	}
	res = query(conn, "SELECT s.state, s.checksum FROM migrate.status() s WHERE s.version = $1", 1, params);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
		strcmp(PQgetvalue(res, 0, 0), "applied") == 0)
	{
		if (mf->checksum && strcmp(PQgetvalue(res, 0, 1), mf->checksum) != 0)
			refuse(o, EXIT_REFUSED, "migration %s was applied meanwhile with another checksum (%.12s, the file's is %.12s)",
				   mf->version, PQgetvalue(res, 0, 1), mf->checksum);
		else
			o->result = xstrdup("already_applied");
	}
	else
		run_non_transactional_locked(conn, plan, mf, o);
	PQclear(res);
	exec_simple(conn, unlock, "releasing the lock of non-transactional migrations");
}

/*
 * Might the script hold a statement that cannot run in a transaction?  A
 * cheap look for the words those statements need; the server decides.
 */
static bool
maybe_non_transactional(const char *text)
{
	static const char *const words[] = {
		"concurrently", "vacuum", "system", "database", "tablespace", "subscription",
		"discard", "reindex", "cluster", NULL
	};

	for (const char *p = text; *p; p++)
		for (int i = 0; words[i]; i++)
		{
			size_t		n = strlen(words[i]);

			if (tolower((unsigned char) *p) == words[i][0] && strncasecmp(p, words[i], n) == 0)
				return true;
		}
	return false;
}

/* Apply one file: migrate.apply, or the non-transactional path. */
static Outcome
apply_file(PGconn *conn, Plan *plan, MigrationFile *mf)
{
	Outcome		o = {0};
	const char *params[6];
	PGresult   *res;
	double		t0 = now_ms();

	if (mf->no_transaction)
	{
		run_non_transactional(conn, plan, mf, &o);
		return o;
	}
	/* known non-transactional files go straight there: no refusal recorded by apply */
	if (maybe_non_transactional(mf->up.text))
	{
		int			failed;
		StmtList	sl = split_script(conn, mf->up.text, mf->path, &failed);
		bool		non_txn = false;

		for (int i = 0; !failed && i < sl.n; i++)
			if (strcmp(sl.s[i].klass, "non_transactional") == 0)
				non_txn = true;
		if (!failed)
			free_stmts(&sl);
		else
			PQclear(sl.res);
		if (non_txn)
		{
			run_non_transactional(conn, plan, mf, &o);
			o.ms = now_ms() - t0;
			return o;
		}
	}
	params[0] = mf->version;
	params[1] = mf->name;
	params[2] = mf->up.text;
	params[3] = mf->down.text;
	params[4] = mf->requires;
	params[5] = mf->verify.text;
	res = query(conn, "SELECT migrate.apply($1, $2, $3, $4, $5::text[], $6)", 6, params);
	o.ms = now_ms() - t0;
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
	{
		o.result = xstrdup(PQgetvalue(res, 0, 0));
		PQclear(res);
		return o;
	}
	if (strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE) ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : "",
			   SQLSTATE_NON_TRANSACTIONAL) == 0)
	{
		PQclear(res);
		run_non_transactional(conn, plan, mf, &o);
		return o;
	}
	o.error = res;
	o.exit_code = server_error_code(res);
	/* "script statement N (line L) of migration V": show that statement */
	{
		const char *ctx = PQresultErrorField(res, PG_DIAG_CONTEXT);
		const char *at = ctx ? strstr(ctx, "script statement ") : NULL;
		int			no;

		if (at && sscanf(at, "script statement %d", &no) == 1)
		{
			int			failed;
			StmtList	sl = split_script(conn, mf->up.text, mf->path, &failed);

			if (!failed && no >= 1 && no <= sl.n)
				o.failed_stmt = &sl.s[no - 1];	/* sl stays alive for the report */
		}
	}
	return o;
}

/* Report a failed or refused migration (stderr, and the JSON document). */
static void
report_failure(MigrationFile *mf, const char *verb, Outcome *o)
{
	char		prefix[1024];

	snprintf(prefix, sizeof(prefix), "migration %s (%s) %s", mf->version, mf->path, verb);
	if (o->message)
		fprintf(stderr, "pg_migrate: error: %s\n", o->message);
	else if (o->error)
	{
		print_server_error(o->error, prefix);
		if (o->failed_stmt)
			fprintf(stderr, "statement %d (line %d of %s) failed:\n%s\n%s",
					o->failed_stmt->no, mf->up.first_line + o->failed_stmt->line - 1, mf->path,
					o->failed_stmt->sql,
					o->non_transactional && o->failed_stmt->no > 1 ?
					"(the file runs outside a transaction: the statements before it stay done; nothing was recorded)\n" :
					"(the migration's transaction was rolled back: nothing of it remains)\n");
	}
	if (o->invalid_index && o->error)
		fprintf(stderr, "pg_migrate: the failed CREATE INDEX CONCURRENTLY left the INVALID index %s behind\n"
				"hint: fix the cause, then run again with --retry to drop it concurrently and build it again\n",
				o->invalid_index);
	if (opt_json)
	{
		json_open("failure", '{');
		json_str("version", mf->version);
		json_str("file", mf->path);
		if (o->message)
			json_str("message", o->message);
		if (o->error)
			json_server_error(o->error);
		if (o->failed_stmt)
		{
			json_int("statement_no", o->failed_stmt->no);
			json_int("line", mf->up.first_line + o->failed_stmt->line - 1);
			json_str("statement", o->failed_stmt->sql);
		}
		json_str("invalid_index", o->invalid_index);
		json_close('}');
	}
}

/* Refuse to go on when applied files no longer match what was recorded. */
static int
check_recorded_checksums(Plan *plan)
{
	int			bad = 0;
	int			i;

	for (i = 0; i < plan->n; i++)
		if (plan->e[i].state == ST_CHECKSUM_DIFFERS)
		{
			fprintf(stderr, "pg_migrate: error: %s was changed after migration %s was applied (recorded checksum %.12s, file %.12s)\n",
					plan->e[i].file->path, plan->e[i].version, plan->e[i].rec_checksum, plan->e[i].file->checksum);
			bad++;
		}
	if (bad)
		fprintf(stderr, "hint: restore the file(s), or record the edit with SELECT migrate.repair(version, script, reason); "
				"pg_migrate verify DIR lists them\n");
	return bad;
}

/* pg_migrate up DIR */
static int
cmd_up(const char *dir)
{
	FileSet		fs = load_dir(dir);
	PGconn	   *conn = connect_db(opt_dbname);
	Plan		plan = make_plan(conn, &fs);
	int			npending = 0;
	int			done = 0;
	int			applied = 0;
	int			skipped = 0;
	int			i;
	int			code = EXIT_OK;
	double		t0 = now_ms();
	int			width;
	Outcome		failed = {0};
	MigrationFile *failed_file = NULL;
	int			ntotal_pending = 0;

	json_open(NULL, '{');
	json_str("command", "up");
	json_str("database", PQdb(conn));
	json_open("migrations", '[');

	if (check_recorded_checksums(&plan) > 0)
	{
		json_close(']');
		json_str("result", "refused");
		json_close('}');
		json_flush();
		return EXIT_REFUSED;
	}
	for (i = 0; i < plan.n; i++)
		if (is_pending(&plan.e[i]))
		{
			ntotal_pending++;
			if (!beyond_target(conn, plan.e[i].version))
				npending++;
		}
	for (i = 0; i < plan.n; i++)
		if (is_applied(&plan.e[i]))
			skipped++;
	if (opt_out_of_order && !exec_simple(conn, "SET migrate.allow_out_of_order = on", "--allow-out-of-order"))
		return EXIT_SERVER;
	width = snprintf(NULL, 0, "%d", npending);
	if (npending == 0)
		progress("nothing to apply: %d migration(s) already applied\n", skipped);
	for (i = 0; i < plan.n && code == EXIT_OK; i++)
	{
		Entry	   *e = &plan.e[i];
		Outcome		o;

		if (!is_pending(e) || beyond_target(conn, e->version))
			continue;
		done++;
		progress("[%*d/%d] %s %s ... ", width, done, npending, e->version, e->name);
		hold_notices = true;
		o = apply_file(conn, &plan, e->file);
		json_open(NULL, '{');
		json_str("version", e->version);
		json_str("name", e->name);
		json_str("result", o.exit_code == EXIT_OK ? o.result : "failed");
		json_bool("non_transactional", o.non_transactional);
		json_ms("ms", o.ms);
		json_close('}');
		if (o.exit_code != EXIT_OK)
		{
			progress(o.exit_code == EXIT_REFUSED ? "REFUSED\n" : "FAILED\n");
			flush_notices();
			failed = o;
			failed_file = e->file;
			code = o.exit_code;
			break;
		}
		progress("%s%s (%s)\n", o.result, o.non_transactional ? ", outside a transaction" : "", fmt_duration(o.ms));
		flush_notices();
		if (strcmp(o.result, "applied") == 0 || strcmp(o.result, "recorded") == 0)
			applied++;
		else
			skipped++;
		/* later files may require it */
		e->state = ST_APPLIED;
		free((char *) o.result);
	}
	json_close(']');
	if (failed_file)
		report_failure(failed_file, "failed", &failed);
	json_int("applied", applied);
	json_int("already_applied", skipped);
	json_int("failed", code == EXIT_OK ? 0 : 1);
	json_int("pending_left", ntotal_pending - done + (code == EXIT_OK ? 0 : 1));
	json_ms("ms", now_ms() - t0);
	json_close('}');
	if (code == EXIT_OK)
		say("up: %d applied, %d already applied, %d pending left (%s)\n",
			applied, skipped, ntotal_pending - done, fmt_duration(now_ms() - t0));
	else
		say("up: %d applied, stopped at a failure; %d pending left (%s)\n",
			applied, ntotal_pending - done + 1, fmt_duration(now_ms() - t0));
	json_flush();
	PQfinish(conn);
	return code;
}

/* pg_migrate status DIR */
static int
cmd_status(const char *dir)
{
	FileSet		fs = load_dir(dir);
	PGconn	   *conn = connect_db(opt_dbname);
	Plan		plan = make_plan(conn, &fs);
	int			counts[NUM_STATES] = {0};
	int			i;
	int			vw = 7;
	int			nw = 4;

	for (i = 0; i < plan.n; i++)
	{
		if ((int) strlen(plan.e[i].version) > vw)
			vw = strlen(plan.e[i].version);
		if (plan.e[i].name && (int) strlen(plan.e[i].name) > nw)
			nw = strlen(plan.e[i].name);
		counts[plan.e[i].state]++;
	}
	json_open(NULL, '{');
	json_str("command", "status");
	json_str("database", PQdb(conn));
	json_open("migrations", '[');
	say("%-*s  %-*s  %-24s  %s\n", vw, "version", nw, "name", "state", "applied at");
	for (i = 0; i < plan.n; i++)
	{
		Entry	   *e = &plan.e[i];
		const char *note = "";

		if (e->state == ST_CHECKSUM_DIFFERS)
			note = "  (file changed since it was applied)";
		else if (e->state == ST_OUT_OF_ORDER)
			note = "  (older than an applied migration)";
		else if (e->state == ST_REVERTED_NO_FILE)
			note = "  (no file)";
		else if (e->state == ST_BELOW_BASELINE)
			note = "  (older than the baseline: counts as applied)";
		else if (e->rec_out_of_order && is_applied(e))
			note = "  (applied out of order)";
		say("%-*s  %-*s  %-24s  %s%s\n", vw, e->version, nw, e->name ? e->name : "", state_names[e->state],
			is_applied(e) && e->applied_at ? e->applied_at : "", note);
		json_open(NULL, '{');
		json_str("version", e->version);
		json_str("name", e->name);
		json_str("state", state_names[e->state]);
		json_str("file", e->file ? e->file->path : NULL);
		json_str("file_checksum", e->file ? e->file->checksum : NULL);
		json_str("recorded_state", e->rec_state);
		json_str("recorded_checksum", e->rec_checksum);
		json_str("applied_at", is_applied(e) ? e->applied_at : NULL);
		json_bool("applied_out_of_order", e->rec_out_of_order && is_applied(e));
		json_close('}');
	}
	json_close(']');
	json_open("counts", '{');
	for (i = 0; i < NUM_STATES; i++)
		json_int(state_names[i], counts[i]);
	json_close('}');
	json_close('}');
	say("\n%d applied, %d baselined, %d below the baseline, %d pending, %d out-of-order, %d applied-but-file-missing, %d checksum-differs, %d reverted without a file\n",
		counts[ST_APPLIED], counts[ST_BASELINED], counts[ST_BELOW_BASELINE], counts[ST_PENDING], counts[ST_OUT_OF_ORDER],
		counts[ST_FILE_MISSING], counts[ST_CHECKSUM_DIFFERS], counts[ST_REVERTED_NO_FILE]);
	json_flush();
	PQfinish(conn);
	return counts[ST_FILE_MISSING] + counts[ST_CHECKSUM_DIFFERS] > 0 ? EXIT_FOUND : EXIT_OK;
}

/* pg_migrate verify DIR: recorded checksums against the files, and the verify checks. */
static int
cmd_verify(const char *dir)
{
	FileSet		fs = load_dir(dir);
	PGconn	   *conn = connect_db(opt_dbname);
	Plan		plan = make_plan(conn, &fs);
	char	  **applied = xmalloc(sizeof(char *) * (plan.n + 1));
	int			napplied = 0;
	int			differs = 0;
	int			missing = 0;
	int			failed_checks = 0;
	int			nchecks = 0;
	int			i;
	const char *params[1];
	PGresult   *res;

	json_open(NULL, '{');
	json_str("command", "verify");
	json_str("database", PQdb(conn));
	json_open("checksums", '[');
	for (i = 0; i < plan.n; i++)
	{
		Entry	   *e = &plan.e[i];

		if (e->rec_state && strcmp(e->rec_state, "applied") == 0)
			applied[napplied++] = (char *) e->version;
		if (e->state == ST_CHECKSUM_DIFFERS)
		{
			differs++;
			say("%s %s: checksum differs: recorded %s, file %s (%s)\n", e->version, e->name,
				e->rec_checksum, e->file->checksum, e->file->path);
		}
		else if (e->state == ST_FILE_MISSING)
		{
			missing++;
			say("%s %s: applied, but no file in %s\n", e->version, e->name, dir);
		}
		else if (e->state == ST_APPLIED)
			say("%s %s: checksum ok\n", e->version, e->name);
		else
			continue;
		json_open(NULL, '{');
		json_str("version", e->version);
		json_str("name", e->name);
		json_str("state", state_names[e->state]);
		json_str("recorded_checksum", e->rec_checksum);
		json_str("file_checksum", e->file ? e->file->checksum : NULL);
		json_close('}');
	}
	json_close(']');

	/* the verify checks of every applied migration, as they hold now */
	params[0] = text_array(applied, napplied);
	res = query_ok(conn,
				   "SELECT v.version, c.check_no, c.passed, c.message, c.check_sql"
				   "  FROM unnest($1::text[]) WITH ORDINALITY AS v(version, ord)"
				   "  CROSS JOIN LATERAL migrate.verify(v.version) c"
				   "  JOIN migrate.migrations m ON m.version = v.version AND m.verify_script IS NOT NULL"
				   " ORDER BY v.ord, c.check_no", 1, params);
	json_open("checks", '[');
	for (i = 0; i < PQntuples(res); i++)
	{
		bool		passed = strcmp(PQgetvalue(res, i, 2), "t") == 0;

		nchecks++;
		if (!passed)
		{
			failed_checks++;
			say("%s: verify check %s failed: %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
				field(res, i, 3) ? field(res, i, 3) : PQgetvalue(res, i, 4));
		}
		json_open(NULL, '{');
		json_str("version", PQgetvalue(res, i, 0));
		json_raw("check_no", PQgetvalue(res, i, 1));
		json_bool("passed", passed);
		json_str("message", field(res, i, 3));
		json_str("check_sql", field(res, i, 4));
		json_close('}');
	}
	json_close(']');
	PQclear(res);
	json_int("checksum_differs", differs);
	json_int("file_missing", missing);
	json_int("checks_run", nchecks);
	json_int("checks_failed", failed_checks);
	json_close('}');
	say("verify: %d applied, %d checksum(s) differ, %d file(s) missing, %d of %d verify check(s) failed\n",
		napplied, differs, missing, failed_checks, nchecks);
	json_flush();
	PQfinish(conn);
	return differs + missing + failed_checks > 0 ? EXIT_FOUND : EXIT_OK;
}

/* Revert one migration: migrate.revert, or the stored down script outside a transaction. */
static Outcome
revert_one(PGconn *conn, Entry *e)
{
	Outcome		o = {0};
	const char *params[1] = {e->version};
	PGresult   *res;
	double		t0 = now_ms();
	StmtList	sl;
	int			failed;
	int			i;
	MigrationFile fake = {0};

	res = query(conn, "SELECT migrate.revert($1)", 1, params);
	o.ms = now_ms() - t0;
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
	{
		o.result = xstrdup(PQgetvalue(res, 0, 0));
		PQclear(res);
		return o;
	}
	if (strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE) ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : "",
			   SQLSTATE_NON_TRANSACTIONAL) != 0)
	{
		o.error = res;
		o.exit_code = server_error_code(res);
		return o;
	}
	PQclear(res);

	/* the stored down script cannot run in a transaction: run it statement by statement */
	o.non_transactional = true;
	res = query_ok(conn, "SELECT m.down_script FROM migrate.migrations m WHERE m.version = $1", 1, params);
	fake.path = (char *) (e->file ? e->file->path : e->version);
	fake.version = (char *) e->version;
	fake.down.text = xstrdup(PQgetvalue(res, 0, 0));
	fake.down.first_line = 1;
	fake.no_transaction = e->file ? e->file->no_transaction : false;
	PQclear(res);
	sl = split_script(conn, fake.down.text, fake.path, &failed);
	if (failed)
	{
		o.error = sl.res;
		o.exit_code = EXIT_FAILED;
		return o;
	}
	if (!mark_client_migration(conn, e->version))
	{
		refuse(&o, EXIT_SERVER, "could not mark the statements as migration %s's", e->version);
		return o;
	}
	if (!check_non_transactional(conn, &fake, &fake.down, &sl, &o) || !set_migration_timeouts(conn))
	{
		if (o.exit_code == EXIT_OK)
			refuse(&o, EXIT_FAILED, "could not set the migration's timeouts");
		mark_client_migration(conn, NULL);
		return o;
	}
	t0 = now_ms();
	for (i = 0; i < sl.n; i++)
	{
		res = PQexec(conn, sl.s[i].sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			o.error = res;
			o.failed_stmt = &sl.s[i];
			o.exit_code = EXIT_FAILED;
			reset_timeouts(conn);
			mark_client_migration(conn, NULL);
			return o;
		}
		PQclear(res);
	}
	o.ms = now_ms() - t0;
	reset_timeouts(conn);
	if (!mark_client_migration(conn, NULL))
	{
		refuse(&o, EXIT_SERVER, "could not unmark the statements of migration %s", e->version);
		return o;
	}
	{
		char		ms[32];
		char		count[16];
		const char *p[3];

		snprintf(ms, sizeof(ms), "%.3f", o.ms);
		snprintf(count, sizeof(count), "%d", sl.n);
		p[0] = e->version;
		p[1] = ms;
		p[2] = count;
		res = query(conn, "SELECT migrate.record_reverted($1, $2::double precision, $3::integer,"
					" '{\"client\": \"pg_migrate\", \"non_transactional\": true}')", 3, p);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			o.error = res;
			o.exit_code = EXIT_FAILED;
			return o;
		}
		o.result = xstrdup("reverted");
		PQclear(res);
	}
	free_stmts(&sl);
	return o;
}

/* qsort comparator: most recently applied first. */
static int
cmp_applied_desc(const void *a, const void *b)
{
	const Entry *x = *(Entry *const *) a;
	const Entry *y = *(Entry *const *) b;

	return atoi(y->applied_order) - atoi(x->applied_order);
}

/*
 * pg_migrate down DIR [VERSION]: revert the most recently applied migration,
 * or VERSION and every applied migration with a later version, most
 * recently applied first.
 */
static int
cmd_down(const char *dir, const char *version)
{
	FileSet		fs = load_dir(dir);
	PGconn	   *conn = connect_db(opt_dbname);
	Plan		plan = make_plan(conn, &fs);
	Entry	  **todo = xmalloc(sizeof(Entry *) * (plan.n + 1));
	int			n = 0;
	int			i;
	int			code = EXIT_OK;
	int			reverted = 0;
	int			from = -1;
	Outcome		failed = {0};
	Entry	   *failed_entry = NULL;

	for (i = 0; i < plan.n; i++)
		if (version && strcmp(plan.e[i].version, version) == 0)
			from = i;
	if (version && (from < 0 || !is_applied(&plan.e[from]) || plan.e[from].state == ST_BASELINED))
		die(EXIT_REFUSED, "migration %s is not applied; pg_migrate status %s lists what is", version, dir);
	for (i = 0; i < plan.n; i++)
		if (plan.e[i].rec_state && strcmp(plan.e[i].rec_state, "applied") == 0 && (from < 0 || i >= from))
			todo[n++] = &plan.e[i];
	qsort(todo, n, sizeof(Entry *), cmp_applied_desc);
	if (version == NULL && n > 1)
		n = 1;

	json_open(NULL, '{');
	json_str("command", "down");
	json_str("database", PQdb(conn));
	json_open("migrations", '[');
	if (n == 0)
		progress("nothing to revert\n");
	for (i = 0; i < n; i++)
	{
		Outcome		o;

		progress("[%d/%d] revert %s %s ... ", i + 1, n, todo[i]->version, todo[i]->name);
		hold_notices = true;
		o = revert_one(conn, todo[i]);
		json_open(NULL, '{');
		json_str("version", todo[i]->version);
		json_str("name", todo[i]->name);
		json_str("result", o.exit_code == EXIT_OK ? o.result : "failed");
		json_bool("non_transactional", o.non_transactional);
		json_ms("ms", o.ms);
		json_close('}');
		if (o.exit_code != EXIT_OK)
		{
			progress(o.exit_code == EXIT_REFUSED ? "REFUSED\n" : "FAILED\n");
			flush_notices();
			failed = o;
			failed_entry = todo[i];
			code = o.exit_code;
			break;
		}
		progress("%s%s (%s)\n", o.result, o.non_transactional ? ", outside a transaction" : "", fmt_duration(o.ms));
		flush_notices();
		reverted++;
	}
	json_close(']');
	if (failed_entry)
	{
		MigrationFile fake = {0};

		fake.path = failed_entry->file ? failed_entry->file->path : (char *) failed_entry->version;
		fake.version = (char *) failed_entry->version;
		fake.up.first_line = 1;
		report_failure(&fake, "could not be reverted", &failed);
	}
	json_int("reverted", reverted);
	json_close('}');
	say("down: %d reverted\n", reverted);
	json_flush();
	PQfinish(conn);
	return code;
}

/* Is this path a directory? */
static bool
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Lint one section of a file; returns the worst severity seen (0 none/info, 1 warning, 2 error). */
static int
lint_section(PGconn *conn, MigrationFile *mf, Section *sec, const char *which, int *nfindings)
{
	const char *params[1] = {sec->text};
	PGresult   *res;
	int			worst = 0;
	int			i;

	res = query(conn,
				"SELECT statement_no, line, rule, severity, lock_mode, relation, message, hint"
				"  FROM migrate.lint($1)", 1, params);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		/* a syntax error is the worst finding there is */
		print_server_error(res, mf->path);
		json_open(NULL, '{');
		json_str("file", mf->path);
		json_str("section", which);
		json_str("severity", "error");
		json_str("rule", "syntax-error");
		json_server_error(res);
		json_close('}');
		PQclear(res);
		(*nfindings)++;
		return 2;
	}
	for (i = 0; i < PQntuples(res); i++)
	{
		const char *sev = PQgetvalue(res, i, 3);
		const char *rule = PQgetvalue(res, i, 2);
		int			line = field(res, i, 1) ? sec->first_line + atoi(PQgetvalue(res, i, 1)) - 1 : 0;
		int			rank = strcmp(sev, "error") == 0 ? 2 : strcmp(sev, "warning") == 0 ? 1 : 0;

		if (rank > worst)
			worst = rank;
		if (rank == 0 && !opt_verbose)
			continue;
		(*nfindings)++;
		if (line > 0)
			say("%s:%d: %s: %s: %s", mf->path, line, sev, rule, PQgetvalue(res, i, 6));
		else
			say("%s: %s: %s: %s", mf->path, sev, rule, PQgetvalue(res, i, 6));
		if (field(res, i, 4) && field(res, i, 5))
			say(" [%s on %s]", PQgetvalue(res, i, 4), PQgetvalue(res, i, 5));
		say("\n");
		if (field(res, i, 7))
			say("    hint: %s\n", PQgetvalue(res, i, 7));
		json_open(NULL, '{');
		json_str("file", mf->path);
		json_str("section", which);
		json_raw("statement_no", field(res, i, 0));
		json_int("line", line);
		json_str("rule", rule);
		json_str("severity", sev);
		json_str("lock_mode", field(res, i, 4));
		json_str("relation", field(res, i, 5));
		json_str("message", field(res, i, 6));
		json_str("hint", field(res, i, 7));
		json_close('}');
	}
	PQclear(res);
	return worst;
}

/* pg_migrate lint FILE|DIR...: server-side lint, exit code by worst severity. */
static int
cmd_lint(int nargs, char **args)
{
	PGconn	   *conn = connect_db(opt_dbname);
	int			worst = 0;
	int			nfiles = 0;
	int			nfindings = 0;
	int			i,
				j;

	json_open(NULL, '{');
	json_str("command", "lint");
	json_open("findings", '[');
	for (i = 0; i < nargs; i++)
	{
		FileSet		fs = {0};
		MigrationFile *single = NULL;

		if (is_dir(args[i]))
			fs = load_dir(args[i]);
		else
		{
			/* a single file need not follow the naming rule */
			char	   *text = read_file(args[i]);

			if (text == NULL)
				die(EXIT_USAGE, "could not read \"%s\": %s", args[i], strerror(errno));
			single = xmalloc(sizeof(MigrationFile));
			single->path = args[i];
			parse_sections(single, text);
			free(text);
			if (single->up.text == NULL)
				die(EXIT_REFUSED, "\"%s\" contains no SQL to lint", args[i]);
			fs.files = &single;
			fs.n = 1;
		}
		for (j = 0; j < fs.n; j++)
		{
			MigrationFile *mf = fs.files[j];
			int			w = lint_section(conn, mf, &mf->up, "up", &nfindings);

			/* down scripts drop things by design: linted only with --verbose */
			if (w > worst)
				worst = w;
			if (mf->down.text && opt_verbose)
			{
				w = lint_section(conn, mf, &mf->down, "down", &nfindings);
				if (w > worst)
					worst = w;
			}
			nfiles++;
		}
	}
	json_close(']');
	json_int("files", nfiles);
	json_str("worst", worst == 2 ? "error" : worst == 1 ? "warning" : "ok");
	json_close('}');
	say("lint: %d file(s), %d finding(s), worst: %s\n", nfiles, nfindings,
		worst == 2 ? "error" : worst == 1 ? "warning" : "ok");
	json_flush();
	PQfinish(conn);
	return worst == 2 ? EXIT_LINT_ERROR : worst == 1 ? EXIT_FOUND : EXIT_OK;
}

/*
 * pg_migrate dry-run DIR: in one transaction that is rolled back, each
 * pending file through migrate.dry_run (time, rows and locks per statement)
 * and then migrate.apply, so later files see the earlier ones' changes.
 */
static int
cmd_dry_run(const char *dir)
{
	FileSet		fs = load_dir(dir);
	PGconn	   *conn = connect_db(opt_dbname);
	Plan		plan = make_plan(conn, &fs);
	int			code = EXIT_OK;
	int			i,
				r;
	int			nrun = 0;

	json_open(NULL, '{');
	json_str("command", "dry-run");
	json_str("database", PQdb(conn));
	json_open("migrations", '[');
	if (!exec_simple(conn, "BEGIN", "BEGIN"))
		return EXIT_SERVER;
	if (opt_out_of_order && !exec_simple(conn, "SET LOCAL migrate.allow_out_of_order = on", "--allow-out-of-order"))
		return EXIT_SERVER;
	for (i = 0; i < plan.n && code == EXIT_OK; i++)
	{
		Entry	   *e = &plan.e[i];
		MigrationFile *mf = e->file;
		const char *params[6];
		PGresult   *res;
		bool		non_txn = mf && mf->no_transaction;
		StmtList	sl;
		int			failed;

		if (!is_pending(e) || beyond_target(conn, e->version))
			continue;
		nrun++;
		json_open(NULL, '{');
		json_str("version", e->version);
		json_str("name", e->name);
		if (!non_txn)
		{
			sl = split_script(conn, mf->up.text, mf->path, &failed);
			if (failed)
			{
				json_server_error(sl.res);
				json_close('}');
				code = EXIT_FAILED;
				break;
			}
			for (r = 0; r < sl.n; r++)
				if (strcmp(sl.s[r].klass, "non_transactional") == 0)
					non_txn = true;
			free_stmts(&sl);
		}
		if (non_txn)
		{
			say("%s %s: not run: it cannot run in a transaction (pg_migrate up runs it outside one); lint it with pg_migrate lint\n",
				e->version, e->name);
			json_str("result", "not_run_non_transactional");
			json_close('}');
			continue;
		}
		say("%s %s:\n", e->version, e->name);
		params[0] = mf->up.text;
		res = query(conn, "SELECT statement_no, command, duration_ms, rows, locks::text, error FROM migrate.dry_run($1)",
					1, params);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			print_server_error(res, mf->path);
			json_server_error(res);
			json_close('}');
			code = EXIT_FAILED;
			break;
		}
		json_open("statements", '[');
		for (r = 0; r < PQntuples(res); r++)
		{
			say("  %3s %-28s %10s ms %8s rows  locks %s%s%s\n", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1),
				PQgetvalue(res, r, 2), PQgetvalue(res, r, 3), PQgetvalue(res, r, 4),
				field(res, r, 5) ? "  " : "", field(res, r, 5) ? field(res, r, 5) : "");
			json_open(NULL, '{');
			json_raw("statement_no", PQgetvalue(res, r, 0));
			json_str("command", field(res, r, 1));
			json_raw("duration_ms", field(res, r, 2));
			json_raw("rows", field(res, r, 3));
			json_str("locks", field(res, r, 4));
			json_str("error", field(res, r, 5));
			json_close('}');
			if (field(res, r, 5))
				code = EXIT_FAILED;
		}
		json_close(']');
		PQclear(res);
		if (code != EXIT_OK)
		{
			json_str("result", "failed");
			json_close('}');
			break;
		}
		/* apply it inside the transaction so later files see its changes */
		params[0] = mf->version;
		params[1] = mf->name;
		params[2] = mf->up.text;
		params[3] = mf->down.text;
		params[4] = mf->requires;
		params[5] = mf->verify.text;
		res = query(conn, "SELECT migrate.apply($1, $2, $3, $4, $5::text[], $6)", 6, params);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			print_server_error(res, mf->path);
			json_server_error(res);
			json_str("result", "failed");
			code = EXIT_FAILED;
		}
		else
			json_str("result", "ok");
		PQclear(res);
		json_close('}');
	}
	exec_simple(conn, "ROLLBACK", "ROLLBACK");
	json_close(']');
	json_int("dry_run", nrun);
	json_close('}');
	say("dry-run: %d pending migration(s) tried and rolled back%s\n", nrun, code == EXIT_OK ? "" : "; one failed");
	json_flush();
	PQfinish(conn);
	return code;
}

/* Print drift rows (kind, identity, change, attribute, expected, actual, ...) and add them to JSON. */
static int
print_drift(PGresult *res, bool with_who)
{
	int			i;

	json_open("drift", '[');
	for (i = 0; i < PQntuples(res); i++)
	{
		const char *attr = field(res, i, 3);

		say("  %-10s %-9s %s%s%s", PQgetvalue(res, i, 2), PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
			attr ? " " : "", attr ? attr : "");
		if (field(res, i, 4) || field(res, i, 5))
			say(": expected %s, actual %s", field(res, i, 4) ? field(res, i, 4) : "(none)",
				field(res, i, 5) ? field(res, i, 5) : "(none)");
		if (with_who && field(res, i, 6))
			say(" (by %s at %s)", field(res, i, 6), field(res, i, 7) ? field(res, i, 7) : "?");
		say("\n");
		json_open(NULL, '{');
		json_str("kind", field(res, i, 0));
		json_str("identity", field(res, i, 1));
		json_str("change", field(res, i, 2));
		json_str("attribute", attr);
		json_str("expected", field(res, i, 4));
		json_str("actual", field(res, i, 5));
		if (with_who)
		{
			json_str("changed_by", field(res, i, 6));
			json_str("changed_at", field(res, i, 7));
			json_str("statement", field(res, i, 8));
		}
		json_close('}');
	}
	json_close(']');
	return PQntuples(res);
}

/* pg_migrate drift: the drift report against the latest saved snapshot. */
static int
cmd_drift(void)
{
	PGconn	   *conn = connect_db(opt_dbname);
	PGresult   *res;
	int			n;

	json_open(NULL, '{');
	json_str("command", "drift");
	json_str("database", PQdb(conn));
	res = query(conn, "SELECT kind, identity, change, attribute, expected, actual, changed_by, changed_at, statement"
				"  FROM migrate.drift()", 0, NULL);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		print_server_error(res, "drift");
		json_server_error(res);
		json_close('}');
		json_flush();
		return EXIT_SERVER;
	}
	n = print_drift(res, true);
	PQclear(res);
	json_int("differences", n);
	json_close('}');
	say(n == 0 ? "drift: none, the schema matches the latest snapshot\n" : "drift: %d difference(s)\n", n);
	json_flush();
	PQfinish(conn);
	return n > 0 ? EXIT_FOUND : EXIT_OK;
}

/*
 * pg_migrate compare DB_A DB_B: history and schema of two databases.  The
 * history is exported on A and compared on B; the schema snapshot of A is
 * compared with B's (A is "expected", B "actual").
 */
static int
cmd_compare(const char *db_a, const char *db_b)
{
	PGconn	   *a = connect_db(db_a);
	PGconn	   *b = connect_db(db_b);
	PGresult   *exp_a,
			   *cmp,
			   *snap_a,
			   *diff,
			   *fp;
	const char *params[1];
	int			ndiff_hist = 0;
	int			ndiff_schema;
	int			i;
	const char *first = NULL;

	exp_a = query_ok(a, "SELECT migrate.history_export()::text, migrate.fingerprint()", 0, NULL);
	params[0] = PQgetvalue(exp_a, 0, 0);
	cmp = query_ok(b, "SELECT version, name, here, there, difference, first_divergence"
				   "  FROM migrate.history_compare($1::jsonb)", 1, params);
	fp = query_ok(b, "SELECT migrate.fingerprint()", 0, NULL);

	json_open(NULL, '{');
	json_str("command", "compare");
	json_str("a", PQdb(a));
	json_str("b", PQdb(b));
	json_str("fingerprint_a", PQgetvalue(exp_a, 0, 1));
	json_str("fingerprint_b", PQgetvalue(fp, 0, 0));
	json_bool("same_fingerprint", strcmp(PQgetvalue(exp_a, 0, 1), PQgetvalue(fp, 0, 0)) == 0);
	say("history: A = %s, B = %s\n", PQdb(a), PQdb(b));
	json_open("history", '[');
	for (i = 0; i < PQntuples(cmp); i++)
	{
		const char *d = PQgetvalue(cmp, i, 4);
		const char *shown = strcmp(d, "only_there") == 0 ? "only_in_a" :
			strcmp(d, "only_here") == 0 ? "only_in_b" : d;

		if (strcmp(d, "same") != 0)
			ndiff_hist++;
		if (strcmp(PQgetvalue(cmp, i, 5), "t") == 0)
			first = PQgetvalue(cmp, i, 0);
		if (strcmp(d, "same") != 0 || opt_verbose)
			say("  %-20s %-30s %s\n", PQgetvalue(cmp, i, 0), PQgetvalue(cmp, i, 1), shown);
		json_open(NULL, '{');
		json_str("version", field(cmp, i, 0));
		json_str("name", field(cmp, i, 1));
		json_str("a", field(cmp, i, 3));
		json_str("b", field(cmp, i, 2));
		json_str("difference", shown);
		json_bool("first_divergence", strcmp(PQgetvalue(cmp, i, 5), "t") == 0);
		json_close('}');
	}
	json_close(']');
	json_str("first_divergence", first);
	if (ndiff_hist == 0)
		say("  the same %d migration(s) are applied on both; fingerprint %s\n", PQntuples(cmp), PQgetvalue(fp, 0, 0));
	else
		say("  %d of %d version(s) differ; the histories diverge at %s\n  fingerprints: A %s, B %s\n",
			ndiff_hist, PQntuples(cmp), first ? first : "?", PQgetvalue(exp_a, 0, 1), PQgetvalue(fp, 0, 0));

	snap_a = query_ok(a, "SELECT migrate.snapshot()::text", 0, NULL);
	params[0] = PQgetvalue(snap_a, 0, 0);
	diff = query_ok(b, "SELECT kind, identity, change, attribute, expected, actual"
					"  FROM migrate.snapshot_diff($1::jsonb, migrate.snapshot())"
					" ORDER BY kind, identity, attribute", 1, params);
	say("schema: expected A, actual B\n");
	ndiff_schema = print_drift(diff, false);
	if (ndiff_schema == 0)
		say("  no schema differences\n");
	json_int("history_differences", ndiff_hist);
	json_int("schema_differences", ndiff_schema);
	json_close('}');
	say("compare: %d history difference(s), %d schema difference(s)\n", ndiff_hist, ndiff_schema);
	json_flush();
	PQclear(exp_a);
	PQclear(cmp);
	PQclear(fp);
	PQclear(snap_a);
	PQclear(diff);
	PQfinish(a);
	PQfinish(b);
	return ndiff_hist + ndiff_schema > 0 ? EXIT_FOUND : EXIT_OK;
}

/* --help */
static void
usage(FILE *out)
{
	fprintf(out,
			"NAME\n"
			"  pg_migrate - apply folders of migration files with the migrate_ext extension\n"
			"\n"
			"SYNOPSIS\n"
			"  pg_migrate [OPTION]... up DIR             apply the pending migrations of DIR\n"
			"  pg_migrate [OPTION]... status DIR         state of every file and migration\n"
			"  pg_migrate [OPTION]... verify DIR         recorded checksums, verify checks\n"
			"  pg_migrate [OPTION]... down DIR [VERSION] revert migrations, newest first\n"
			"  pg_migrate [OPTION]... lint FILE|DIR...   lint the scripts on the server\n"
			"  pg_migrate [OPTION]... dry-run DIR        try the pending ones, roll back\n"
			"  pg_migrate [OPTION]... compare DB_A DB_B  histories and schemas of two DBs\n"
			"  pg_migrate [OPTION]... drift              drift since the saved snapshot\n"
			"  pg_migrate help | --help | --version\n"
			"\n"
			"DESCRIPTION\n"
			"  pg_migrate is the command-line client of the migrate_ext extension. It\n"
			"  applies a folder of migration files on one connection, one transaction per\n"
			"  migration, through migrate.apply: the server parses, checks, lints and\n"
			"  records them. A file with statements that cannot run in a transaction\n"
			"  block (CREATE INDEX CONCURRENTLY, ...) is linted per migrate.lint_level\n"
			"  first (migrate.lint_gate), then run statement by statement outside a\n"
			"  transaction with lock_timeout and statement_timeout set to\n"
			"  migrate.lock_timeout and migrate.statement_timeout, and recorded with\n"
			"  migrate.record_applied. Mixed with transactional statements it is refused\n"
			"  unless marked -- migrate:no-transaction.\n"
			"\n"
			"  DIR holds <version>__<name>.sql files (the version is everything before\n"
			"  the double underscore: 20251014220000__add_audit.sql, V3__x.sql), applied\n"
			"  in natural version order (V2 before V10). A file may have sections:\n"
			"    -- migrate:up              the script (a file without sections is all up)\n"
			"    -- migrate:down            the script that reverts it\n"
			"                               (or <version>__<name>.down.sql)\n"
			"    -- migrate:verify          checks that must return true\n"
			"                               (or <version>__<name>.verify.sql)\n"
			"    -- migrate:no-transaction  run every statement on its own, outside a\n"
			"                               transaction\n"
			"    -- requires: V1, V2        versions that must be applied first\n"
			"\n"
			"COMMANDS\n"
			"  up DIR\n"
			"      Apply the pending migrations in version order; stop at the first\n"
			"      failure with the server's message and the failing statement. One\n"
			"      progress line per migration with its duration, then a summary.\n"
			"  status DIR\n"
			"      For every file and recorded migration: applied, baselined,\n"
			"      below-baseline, pending, out-of-order, applied-but-file-missing,\n"
			"      checksum-differs or reverted.\n"
			"  verify DIR\n"
			"      Compare the recorded checksums with the files and run the stored\n"
			"      verify checks.\n"
			"  down DIR [VERSION]\n"
			"      Revert the latest applied migration, or VERSION and every applied\n"
			"      migration with a later version, newest first.\n"
			"  lint FILE|DIR...\n"
			"      Lint the up scripts with migrate.lint (with -v the down scripts too);\n"
			"      the exit status follows the worst finding.\n"
			"  dry-run DIR\n"
			"      Run the pending migrations in a transaction that is rolled back;\n"
			"      report the time, rows and locks of each statement.\n"
			"  compare DB_A DB_B\n"
			"      Compare the migration histories and the schemas of two databases,\n"
			"      each given by name or connection string.\n"
			"  drift\n"
			"      Print the schema changes since the saved snapshot (migrate.drift),\n"
			"      with who made them.\n"
			"  help\n"
			"      Print this text.\n"
			"\n"
			"OPTIONS\n"
			"  -h, --host=HOST          database server host or socket directory\n"
			"  -p, --port=PORT          database server port\n"
			"  -U, --username=USER      database user name\n"
			"  -d, --dbname=DBNAME      database name or connection string (compare takes\n"
			"                           its two databases as arguments)\n"
			"      --json               print one JSON document on stdout (progress goes\n"
			"                           to stderr)\n"
			"  -q, --quiet              no progress lines and no server notices\n"
			"  -v, --verbose            more detail: every statement, info findings, the\n"
			"                           versions that are the same\n"
			"      --retry              drop an INVALID index left by a failed CREATE\n"
			"                           INDEX CONCURRENTLY (with DROP INDEX CONCURRENTLY)\n"
			"                           and build it again\n"
			"      --target=VERSION     up, dry-run: stop after VERSION\n"
			"      --allow-out-of-order up: apply pending migrations older than applied ones\n"
			"  -V, --version            print the version and exit\n"
			"  -?, --help               print this help and exit\n"
			"\n"
			"ENVIRONMENT\n"
			"  PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGSERVICE, ...\n"
			"      The libpq environment variables and ~/.pgpass apply, as with psql.\n"
			"  PGOPTIONS\n"
			"      Settings of the session, e.g. \"-c migrate.lint_level=error\" or\n"
			"      \"-c migrate.lock_timeout=2s\" (or ALTER ROLE/DATABASE ... SET).\n"
			"\n"
			"EXIT STATUS\n"
			"  0   success, nothing found\n"
			"  1   found something: status/verify: a checksum differs or a file is missing\n"
			"      (verify: or a check failed); lint: warnings; compare: differences;\n"
			"      drift: drift\n"
			"  2   lint: error findings (a syntax error counts as one)\n"
			"  3   a migration, down script or dry run failed (the failing statement is\n"
			"      printed)\n"
			"  4   refused before running: bad or duplicate files, an applied file\n"
			"      changed, a mixed file, a leftover INVALID index without --retry, a\n"
			"      missing requirement, a version older than an applied one without\n"
			"      --allow-out-of-order, the lint policy (migrate.lint_level = error),\n"
			"      down of a migration that is not applied, has no down script or is\n"
			"      required by applied ones, lint of a file without SQL\n"
			"  5   cannot connect, the extension is not installed, or another server error\n"
			"  64  bad command line\n"
			"\n"
			"EXAMPLES\n"
			"  Apply a folder, then list what is applied and pending:\n"
			"    pg_migrate -d app up migrations\n"
			"    pg_migrate -d app status migrations\n"
			"  Refuse migrations with lint errors, non-transactional ones included:\n"
			"    PGOPTIONS=\"-c migrate.lint_level=error\" pg_migrate -d app up migrations\n"
			"  Build again an index that a failed CREATE INDEX CONCURRENTLY left INVALID:\n"
			"    pg_migrate -d app up --retry migrations\n"
			"  Revert migration 20251014220100 and every later one:\n"
			"    pg_migrate -d app down migrations 20251014220100\n"
			"  Compare development with production:\n"
			"    pg_migrate compare app \"host=prod.internal dbname=app sslmode=require\"\n");
}

int
main(int argc, char **argv)
{
	static struct option long_options[] = {
		{"host", required_argument, NULL, 'h'},
		{"port", required_argument, NULL, 'p'},
		{"username", required_argument, NULL, 'U'},
		{"dbname", required_argument, NULL, 'd'},
		{"json", no_argument, NULL, 1},
		{"quiet", no_argument, NULL, 'q'},
		{"verbose", no_argument, NULL, 'v'},
		{"retry", no_argument, NULL, 2},
		{"target", required_argument, NULL, 3},
		{"allow-out-of-order", no_argument, NULL, 4},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 5},
		{NULL, 0, NULL, 0}
	};
	int			c;
	const char *cmd;
	int			nargs;
	char	  **args;

	while ((c = getopt_long(argc, argv, "h:p:U:d:qvV?", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'h':
				opt_host = optarg;
				break;
			case 'p':
				opt_port = optarg;
				break;
			case 'U':
				opt_user = optarg;
				break;
			case 'd':
				opt_dbname = optarg;
				break;
			case 'q':
				opt_quiet = true;
				break;
			case 'v':
				opt_verbose = true;
				break;
			case 1:
				opt_json = true;
				break;
			case 2:
				opt_retry = true;
				break;
			case 3:
				opt_target = optarg;
				break;
			case 4:
				opt_out_of_order = true;
				break;
			case 'V':
				printf("pg_migrate (migrate_ext) %s\n", PG_MIGRATE_VERSION);
				return EXIT_OK;
			case 5:
				usage(stdout);
				return EXIT_OK;
			case '?':
				if (strcmp(argv[optind - 1], "-?") == 0)
				{
					usage(stdout);
					return EXIT_OK;
				}
				fprintf(stderr, "Try \"pg_migrate --help\" for more information.\n");
				return EXIT_USAGE;
			default:
				fprintf(stderr, "Try \"pg_migrate --help\" for more information.\n");
				return EXIT_USAGE;
		}
	}
	if (optind >= argc)
	{
		fprintf(stderr, "pg_migrate: error: no command given\nTry \"pg_migrate --help\" for more information.\n");
		return EXIT_USAGE;
	}
	cmd = argv[optind];
	args = argv + optind + 1;
	nargs = argc - optind - 1;

#define NEED_ARGS(lo, hi, what) \
	do { \
		if (nargs < (lo) || nargs > (hi)) \
		{ \
			fprintf(stderr, "pg_migrate: error: usage: pg_migrate [OPTION]... %s %s\n" \
					"Try \"pg_migrate --help\" for more information.\n", cmd, what); \
			return EXIT_USAGE; \
		} \
	} while (0)

	if (strcmp(cmd, "up") == 0)
	{
		NEED_ARGS(1, 1, "DIR");
		return cmd_up(args[0]);
	}
	if (strcmp(cmd, "status") == 0)
	{
		NEED_ARGS(1, 1, "DIR");
		return cmd_status(args[0]);
	}
	if (strcmp(cmd, "verify") == 0)
	{
		NEED_ARGS(1, 1, "DIR");
		return cmd_verify(args[0]);
	}
	if (strcmp(cmd, "down") == 0)
	{
		NEED_ARGS(1, 2, "DIR [VERSION]");
		return cmd_down(args[0], nargs > 1 ? args[1] : NULL);
	}
	if (strcmp(cmd, "lint") == 0)
	{
		NEED_ARGS(1, 100000, "FILE|DIR...");
		return cmd_lint(nargs, args);
	}
	if (strcmp(cmd, "dry-run") == 0)
	{
		NEED_ARGS(1, 1, "DIR");
		return cmd_dry_run(args[0]);
	}
	if (strcmp(cmd, "compare") == 0)
	{
		NEED_ARGS(2, 2, "DB_A DB_B");
		return cmd_compare(args[0], args[1]);
	}
	if (strcmp(cmd, "drift") == 0)
	{
		NEED_ARGS(0, 0, "");
		return cmd_drift();
	}
	if (strcmp(cmd, "help") == 0)
	{
		usage(stdout);
		return EXIT_OK;
	}
	fprintf(stderr, "pg_migrate: error: unknown command \"%s\"\nTry \"pg_migrate --help\" for more information.\n", cmd);
	return EXIT_USAGE;
}

/* users.c: Account's users in memory and the rules of every operation on them
 * (docs/PROTOCOL.md section 8). Each change is made on a copy, made durable by
 * the store, and only then applied, so memory never holds what the disk does
 * not. The address index replaces the original's scan of 4096 x 31 slots. */
#include "account/users.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "common/bytes.h"

/* Open-addressing index from (hash, kind) to uid, linear probing, deletion by
 * backward shift (no tombstones). It never holds more than 4096 x 31 = 126,976
 * entries, so a fixed 2^18 slots keep the load under one half. */
#define IDX_BITS 18
#define IDX_CAP ((size_t)1 << IDX_BITS)
#define IDX_USED 0x8000u
#define IDX_SHIELD 0x4000u
#define IDX_UID 0x0FFFu

_Static_assert((size_t)ACCOUNT_USERS_MAX * ACCOUNT_ADDR_MAX * 2 <= IDX_CAP, "index load");
_Static_assert(ACCOUNT_USERS_MAX - 1 <= IDX_UID, "uid bits");
_Static_assert(ACCOUNT_PRIVATE_MAX <= UINT16_MAX, "priv_len is u16");

struct idx_slot {
	uint8_t hash[ADDRHASH_BYTES];
	uint16_t tag; /* IDX_USED | IDX_SHIELD? | uid */
};

struct users {
	struct users_user *tab;  /* ACCOUNT_USERS_MAX entries, sodium_malloc */
	struct idx_slot *idx;    /* IDX_CAP entries */
	size_t count;
	struct users_store store;
	struct users_settings settings;
	uint64_t uak_tag[ACCOUNT_USERS_MAX]; /* keyed hash of each UAK, for the uniqueness check */
	uint8_t present[ACCOUNT_USERS_MAX];
	uint8_t idx_key[crypto_shorthash_KEYBYTES]; /* per process: index positions are unguessable */
};

/* The names of PROTOCOL.md 2.5, in its order (the settings layout keeps it). */
static const char *const reserved_names[ACCOUNT_RESERVED_COUNT] = {
	"abuse", "admin", "administrator", "help",    "hostmaster",
	"info",  "postmaster", "security", "support", "webmaster",
};

struct users_limits users_default_limits(uint8_t level)
{
	static const struct users_limits def[ACCOUNT_LEVELS] = {
		{ 256, 3, 10 },
		{ 1024, 10, 31 },
		{ 4096, 31, 31 },
		{ 65536, 31, 31 },
	};
	if (level >= ACCOUNT_LEVELS)
		fatalx("users_default_limits: level %u", level);
	return def[level];
}

int users_settings_init(struct users_settings *ret, const struct addrhash_params *p,
                        const uint8_t salt[ADDRHASH_SALT_BYTES])
{
	struct users_settings s;
	uint8_t a[ADDR32_BYTES];
	int rc = 0;

	if (addrhash_params_check(p) < 0)
		return -EINVAL;
	memset(&s, 0, sizeof(s));
	s.version = 1;
	s.params = *p;
	for (uint8_t l = 0; l < ACCOUNT_LEVELS; l++)
		s.limits[l] = users_default_limits(l);
	rc = addrhash_normal_any(s.system_hash, addr32_system, salt, p);
	for (size_t i = 0; rc == 0 && i < ACCOUNT_RESERVED_COUNT; i++) {
		if (addr32_parse(reserved_names[i], strlen(reserved_names[i]), a) != ADDR32_NORMAL ||
		    !addr32_is_reserved(a))
			fatalx("reserved name %zu disagrees with addr32", i);
		rc = addrhash_normal(s.reserved_hash[i], a, salt, p);
	}
	randombytes_buf(s.decoy_key, sizeof(s.decoy_key));
	if (rc == 0)
		*ret = s;
	sodium_memzero(&s, sizeof(s));
	return rc < 0 ? -ENOMEM : 0;
}

int users_limits_valid(const struct users_limits *l)
{
	if (l->storage_mib > ACCOUNT_STORAGE_MIB_MAX || l->max_normal > ACCOUNT_ADDR_MAX ||
	    l->max_shield > ACCOUNT_ADDR_MAX)
		return -EINVAL;
	return 0;
}

int users_settings_valid(const struct users_settings *s)
{
	if (s->version == 0 || addrhash_params_check(&s->params) < 0)
		return -EINVAL;
	for (size_t l = 0; l < ACCOUNT_LEVELS; l++)
		if (users_limits_valid(&s->limits[l]) < 0)
			return -EINVAL;
	return 0;
}

static bool addr_is_shield(const struct users_addr *a)
{
	return (a->flags & ACCOUNT_FLAG_SHIELD) != 0;
}

/* Slot of (hash, kind) in u, or -1. */
static int user_find_addr(const struct users_user *u, const uint8_t hash[ADDRHASH_BYTES],
                          bool is_shield)
{
	for (int i = 0; i < u->addr_count; i++)
		if (addr_is_shield(&u->addr[i]) == is_shield &&
		    memcmp(u->addr[i].hash, hash, ADDRHASH_BYTES) == 0)
			return i;
	return -1;
}

static int user_count_kind(const struct users_user *u, bool is_shield)
{
	int n = 0;
	for (int i = 0; i < u->addr_count; i++)
		n += addr_is_shield(&u->addr[i]) == is_shield;
	return n;
}

int users_user_valid(const struct users_user *u)
{
	if (u->uid >= ACCOUNT_USERS_MAX || u->level >= ACCOUNT_LEVELS ||
	    (u->uid == ACCOUNT_MASTER_UID && u->level != ACCOUNT_LEVEL_ADMIN) ||
	    u->addr_count > ACCOUNT_ADDR_MAX || u->priv_len > ACCOUNT_PRIVATE_MAX ||
	    (u->priv_len == 0) != (u->priv == NULL) || sodium_is_zero(u->uak, sizeof(u->uak)))
		return -EINVAL;
	for (int i = 0; i < u->addr_count; i++) {
		if (u->addr[i].flags & ~ACCOUNT_FLAGS_VALID)
			return -EINVAL;
		for (int j = 0; j < i; j++)
			if (addr_is_shield(&u->addr[j]) == addr_is_shield(&u->addr[i]) &&
			    memcmp(u->addr[j].hash, u->addr[i].hash, ADDRHASH_BYTES) == 0)
				return -EINVAL;
	}
	return 0;
}

void users_user_clear(struct users_user *u)
{
	if (u->priv) {
		sodium_memzero(u->priv, u->priv_len);
		free(u->priv);
	}
	sodium_memzero(u, sizeof(*u));
}

/* --- index --- */

static size_t idx_home(const struct users *db, const uint8_t hash[ADDRHASH_BYTES], bool is_shield)
{
	uint8_t in[ADDRHASH_BYTES + 1], h[crypto_shorthash_BYTES];
	memcpy(in, hash, ADDRHASH_BYTES);
	in[ADDRHASH_BYTES] = is_shield;
	crypto_shorthash(h, in, sizeof(in), db->idx_key);
	return (size_t)(le64_load(h) & (IDX_CAP - 1));
}

static size_t idx_home_slot(const struct users *db, const struct idx_slot *s)
{
	return idx_home(db, s->hash, (s->tag & IDX_SHIELD) != 0);
}

static bool idx_match(const struct idx_slot *s, const uint8_t hash[ADDRHASH_BYTES], bool is_shield)
{
	return ((s->tag & IDX_SHIELD) != 0) == is_shield && memcmp(s->hash, hash, ADDRHASH_BYTES) == 0;
}

/* Position of (hash, kind), or IDX_CAP if absent. */
static size_t idx_find(const struct users *db, const uint8_t hash[ADDRHASH_BYTES], bool is_shield)
{
	for (size_t i = idx_home(db, hash, is_shield);; i = (i + 1) & (IDX_CAP - 1)) {
		const struct idx_slot *s = &db->idx[i];
		if (!(s->tag & IDX_USED))
			return IDX_CAP;
		if (idx_match(s, hash, is_shield))
			return i;
	}
}

/* (hash, kind) must be absent; the table never fills (see IDX_CAP). */
static void idx_insert(struct users *db, const uint8_t hash[ADDRHASH_BYTES], bool is_shield,
                       uint16_t uid)
{
	size_t i = idx_home(db, hash, is_shield);
	while (db->idx[i].tag & IDX_USED)
		i = (i + 1) & (IDX_CAP - 1);
	memcpy(db->idx[i].hash, hash, ADDRHASH_BYTES);
	db->idx[i].tag = (uint16_t)(IDX_USED | (is_shield ? IDX_SHIELD : 0) | uid);
}

static void idx_remove(struct users *db, const uint8_t hash[ADDRHASH_BYTES], bool is_shield)
{
	size_t i = idx_find(db, hash, is_shield);
	if (i == IDX_CAP)
		fatalx("users index: removing an absent entry");
	/* Backward shift: pull later entries of the cluster into the hole when
	 * their home is not cyclically in (hole, their position]. */
	for (size_t j = i;;) {
		j = (j + 1) & (IDX_CAP - 1);
		if (!(db->idx[j].tag & IDX_USED))
			break;
		size_t k = idx_home_slot(db, &db->idx[j]);
		bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (stays)
			continue;
		db->idx[i] = db->idx[j];
		i = j;
	}
	sodium_memzero(&db->idx[i], sizeof(db->idx[i]));
}

/* --- database --- */

static uint64_t uak_tag(const struct users *db, const uint8_t uak[ACCOUNT_UAK_BYTES])
{
	uint8_t h[crypto_shorthash_BYTES];
	crypto_shorthash(h, uak, ACCOUNT_UAK_BYTES, db->idx_key);
	return le64_load(h);
}

/* True when another present user (not skip) has this UAK. Tags compared
 * first, so the time taken says nothing about the UAKs themselves. */
static bool uak_taken(const struct users *db, const uint8_t uak[ACCOUNT_UAK_BYTES], uint64_t tag)
{
	for (size_t i = 0; i < ACCOUNT_USERS_MAX; i++)
		if (db->present[i] && db->uak_tag[i] == tag &&
		    sodium_memcmp(db->tab[i].uak, uak, ACCOUNT_UAK_BYTES) == 0)
			return true;
	return false;
}

struct users *users_new(const struct users_settings *s)
{
	struct users *db = sodium_malloc(sizeof(*db));
	if (!db)
		fatal("sodium_malloc users");
	memset(db, 0, sizeof(*db));
	db->tab = sodium_allocarray(ACCOUNT_USERS_MAX, sizeof(*db->tab));
	if (!db->tab)
		fatal("sodium_malloc users table");
	memset(db->tab, 0, ACCOUNT_USERS_MAX * sizeof(*db->tab));
	db->idx = xcalloc(IDX_CAP, sizeof(*db->idx));
	db->settings = *s;
	randombytes_buf(db->idx_key, sizeof(db->idx_key));
	return db;
}

void users_free(struct users *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < ACCOUNT_USERS_MAX; i++)
		if (db->present[i])
			users_user_clear(&db->tab[i]);
	sodium_free(db->tab);
	sodium_memzero(db->idx, IDX_CAP * sizeof(*db->idx));
	free(db->idx);
	sodium_free(db); /* sodium_free wipes */
}

void users_set_store(struct users *db, const struct users_store *st)
{
	db->store = *st;
}

const struct users_settings *users_settings(const struct users *db)
{
	return &db->settings;
}

size_t users_count(const struct users *db)
{
	return db->count;
}

const struct users_user *users_get(const struct users *db, uint16_t uid)
{
	if (uid >= ACCOUNT_USERS_MAX || !db->present[uid])
		return NULL;
	return &db->tab[uid];
}

static int store_user(struct users *db, const struct users_user *u)
{
	return db->store.save_user ? db->store.save_user(db->store.ctx, u) : 0;
}

/* Puts a saved copy in the table and wipes the copy; the caller updates the
 * index for any address it added or removed. */
static void commit_user(struct users *db, struct users_user *tmp)
{
	db->tab[tmp->uid] = *tmp;
	sodium_memzero(tmp, sizeof(*tmp));
}

int users_insert_loaded(struct users *db, struct users_user *u)
{
	if (users_user_valid(u) < 0)
		return -EINVAL;
	if (db->present[u->uid])
		return -EEXIST;
	for (int i = 0; i < u->addr_count; i++)
		if (idx_find(db, u->addr[i].hash, addr_is_shield(&u->addr[i])) != IDX_CAP)
			return -EEXIST;
	uint64_t tag = uak_tag(db, u->uak);
	if (uak_taken(db, u->uak, tag))
		return -EEXIST;
	uint16_t uid = u->uid;
	db->tab[uid] = *u;
	db->present[uid] = 1;
	db->uak_tag[uid] = tag;
	db->count++;
	for (int i = 0; i < u->addr_count; i++)
		idx_insert(db, u->addr[i].hash, addr_is_shield(&u->addr[i]), uid);
	sodium_memzero(u, sizeof(*u)); /* the table owns the private field now */
	return 0;
}

void users_replay_reset(struct users *db, uint64_t now_ms)
{
	for (size_t i = 0; i < ACCOUNT_USERS_MAX; i++)
		if (db->present[i])
			db->tab[i].last_request_ms = now_ms;
}

int users_create(struct users *db, uint16_t uid, uint8_t level,
                 const uint8_t uak[ACCOUNT_UAK_BYTES], const uint8_t epk[ACCOUNT_EPK_BYTES],
                 uint64_t now_ms, uint16_t *ret_uid)
{
	if (level >= ACCOUNT_LEVELS || (uid != ACCOUNT_UID_ANY && uid >= ACCOUNT_USERS_MAX) ||
	    sodium_is_zero(uak, ACCOUNT_UAK_BYTES))
		return -EINVAL;
	if (uid == ACCOUNT_MASTER_UID && level != ACCOUNT_LEVEL_ADMIN)
		return -EPERM;
	if (uid == ACCOUNT_UID_ANY) {
		/* From 1: UserID 0 is the master admin, made only on purpose. */
		for (uid = 1; uid < ACCOUNT_USERS_MAX && db->present[uid]; uid++)
			;
		if (uid == ACCOUNT_USERS_MAX)
			return -EDQUOT;
	} else if (db->present[uid]) {
		return -EEXIST;
	}
	uint64_t tag = uak_tag(db, uak);
	if (uak_taken(db, uak, tag))
		return -EEXIST;

	struct users_user tmp;
	memset(&tmp, 0, sizeof(tmp));
	tmp.uid = uid;
	tmp.level = level;
	memcpy(tmp.uak, uak, ACCOUNT_UAK_BYTES);
	memcpy(tmp.epk, epk, ACCOUNT_EPK_BYTES);
	tmp.created_ms = now_ms;
	tmp.last_request_ms = now_ms;
	int rc = store_user(db, &tmp);
	if (rc < 0) {
		sodium_memzero(&tmp, sizeof(tmp));
		return rc;
	}
	commit_user(db, &tmp);
	db->present[uid] = 1;
	db->uak_tag[uid] = tag;
	db->count++;
	if (ret_uid)
		*ret_uid = uid;
	return 0;
}

int users_delete(struct users *db, uint16_t uid)
{
	if (uid >= ACCOUNT_USERS_MAX)
		return -EINVAL;
	if (uid == ACCOUNT_MASTER_UID)
		return -EPERM;
	if (!db->present[uid])
		return -ENOENT;
	int rc = db->store.delete_user ? db->store.delete_user(db->store.ctx, uid) : 0;
	if (rc < 0)
		return rc;
	struct users_user *u = &db->tab[uid];
	for (int i = 0; i < u->addr_count; i++)
		idx_remove(db, u->addr[i].hash, addr_is_shield(&u->addr[i]));
	users_user_clear(u);
	db->present[uid] = 0;
	db->uak_tag[uid] = 0;
	db->count--;
	return 0;
}

/* The present user uid, or NULL with *rc set. */
static struct users_user *get_user(struct users *db, uint16_t uid, int *rc)
{
	if (uid >= ACCOUNT_USERS_MAX) {
		*rc = -EINVAL;
		return NULL;
	}
	if (!db->present[uid]) {
		*rc = -ENOENT;
		return NULL;
	}
	return &db->tab[uid];
}

/* Saves tmp and commits it, or wipes it and returns the store's error. */
static int save_commit(struct users *db, struct users_user *tmp)
{
	int rc = store_user(db, tmp);
	if (rc < 0) {
		sodium_memzero(tmp, sizeof(*tmp));
		return rc;
	}
	commit_user(db, tmp);
	return 0;
}

int users_set_level(struct users *db, uint16_t uid, uint8_t level)
{
	int rc = 0;
	struct users_user *u = get_user(db, uid, &rc);
	if (level >= ACCOUNT_LEVELS)
		return -EINVAL;
	if (!u)
		return rc;
	if (uid == ACCOUNT_MASTER_UID && level != ACCOUNT_LEVEL_ADMIN)
		return -EPERM;
	if (u->level == level)
		return 0;
	struct users_user tmp = *u;
	tmp.level = level;
	return save_commit(db, &tmp);
}

int users_set_epk(struct users *db, uint16_t uid, const uint8_t epk[ACCOUNT_EPK_BYTES])
{
	int rc = 0;
	struct users_user *u = get_user(db, uid, &rc);
	if (!u)
		return rc;
	struct users_user tmp = *u;
	memcpy(tmp.epk, epk, ACCOUNT_EPK_BYTES);
	return save_commit(db, &tmp);
}

int users_set_limits(struct users *db, uint8_t level, const struct users_limits *l)
{
	if (level >= ACCOUNT_LEVELS || users_limits_valid(l) < 0)
		return -EINVAL;
	if (db->settings.version == UINT32_MAX)
		return -EOVERFLOW;
	struct users_settings tmp = db->settings;
	tmp.limits[level] = *l;
	tmp.version++;
	int rc = db->store.save_settings ? db->store.save_settings(db->store.ctx, &tmp) : 0;
	if (rc == 0)
		db->settings = tmp;
	sodium_memzero(&tmp, sizeof(tmp));
	return rc;
}

int users_addr_check_normal(const uint8_t addr[ADDR32_BYTES], uint8_t level)
{
	if (addr32_classify(addr) != ADDR32_NORMAL)
		return -EPERM;
	if (level < ACCOUNT_LEVEL_ADMIN && addr32_is_reserved(addr))
		return -EACCES;
	return 0;
}

/* Room for one more address of this kind under the user's level. */
static int check_room(const struct users *db, const struct users_user *u, bool is_shield)
{
	const struct users_limits *l = &db->settings.limits[u->level];
	if (u->addr_count >= ACCOUNT_ADDR_MAX ||
	    user_count_kind(u, is_shield) >= (is_shield ? l->max_shield : l->max_normal))
		return -EDQUOT;
	return 0;
}

/* Appends (hash, flags) on a copy, saves, commits and indexes it. */
static int add_commit(struct users *db, const struct users_user *u,
                      const uint8_t hash[ADDRHASH_BYTES], uint8_t flags)
{
	struct users_user tmp = *u;
	memcpy(tmp.addr[tmp.addr_count].hash, hash, ADDRHASH_BYTES);
	tmp.addr[tmp.addr_count].flags = flags;
	tmp.addr_count++;
	uint16_t uid = tmp.uid;
	int rc = save_commit(db, &tmp);
	if (rc == 0)
		idx_insert(db, hash, (flags & ACCOUNT_FLAG_SHIELD) != 0, uid);
	return rc;
}

int users_addr_add_normal(struct users *db, uint16_t uid, const uint8_t hash[ADDRHASH_BYTES])
{
	int rc = 0;
	struct users_user *u = get_user(db, uid, &rc);
	if (!u)
		return rc;
	if (memcmp(hash, db->settings.system_hash, ADDRHASH_BYTES) == 0)
		return -EPERM;
	if (u->level < ACCOUNT_LEVEL_ADMIN)
		for (size_t i = 0; i < ACCOUNT_RESERVED_COUNT; i++)
			if (memcmp(hash, db->settings.reserved_hash[i], ADDRHASH_BYTES) == 0)
				return -EACCES;
	if ((rc = check_room(db, u, false)) < 0)
		return rc;
	if (idx_find(db, hash, false) != IDX_CAP)
		return -EEXIST;
	return add_commit(db, u, hash, ACCOUNT_FLAGS_NEW);
}

int users_addr_add_shield(struct users *db, uint16_t uid,
                          const uint8_t shield_key[ADDRHASH_SHIELD_KEY_BYTES],
                          uint8_t ret_addr[ADDR32_BYTES], uint8_t ret_hash[ADDRHASH_BYTES])
{
	int rc = 0;
	struct users_user *u = get_user(db, uid, &rc);
	if (!u)
		return rc;
	if ((rc = check_room(db, u, true)) < 0)
		return rc;
	uint8_t a[ADDR32_BYTES], h[ADDRHASH_BYTES];
	rc = -EEXIST;
	for (int t = 0; t < ACCOUNT_SHIELD_TRIES; t++) {
		addr32_shield_random(a);
		addrhash_shield(h, a, shield_key);
		if (idx_find(db, h, true) == IDX_CAP) {
			rc = 0;
			break;
		}
	}
	if (rc == 0)
		rc = add_commit(db, u, h, ACCOUNT_FLAGS_NEW | ACCOUNT_FLAG_SHIELD);
	if (rc == 0) {
		memcpy(ret_addr, a, ADDR32_BYTES);
		memcpy(ret_hash, h, ADDRHASH_BYTES);
	}
	sodium_memzero(a, sizeof(a));
	sodium_memzero(h, sizeof(h));
	return rc;
}

int users_addr_delete(struct users *db, uint16_t uid, const uint8_t hash[ADDRHASH_BYTES],
                      bool is_shield)
{
	int rc = 0;
	struct users_user *u = get_user(db, uid, &rc);
	if (!u)
		return rc;
	int slot = user_find_addr(u, hash, is_shield);
	if (slot < 0)
		return -ENOENT;
	struct users_user tmp = *u;
	memmove(&tmp.addr[slot], &tmp.addr[slot + 1],
	        (size_t)(tmp.addr_count - slot - 1) * sizeof(tmp.addr[0]));
	tmp.addr_count--;
	sodium_memzero(&tmp.addr[tmp.addr_count], sizeof(tmp.addr[0]));
	uint8_t h[ADDRHASH_BYTES];
	memcpy(h, hash, ADDRHASH_BYTES); /* hash may point into the entry being changed */
	if ((rc = save_commit(db, &tmp)) == 0)
		idx_remove(db, h, is_shield);
	return rc;
}

int users_addr_set_flags(struct users *db, uint16_t uid, const uint8_t hash[ADDRHASH_BYTES],
                         bool is_shield, uint8_t flags)
{
	int rc = 0;
	struct users_user *u = get_user(db, uid, &rc);
	if (flags & ACCOUNT_FLAG_UNUSED)
		return -EINVAL;
	if (!u)
		return rc;
	int slot = user_find_addr(u, hash, is_shield);
	if (slot < 0)
		return -ENOENT;
	uint8_t nf = (uint8_t)((u->addr[slot].flags & ACCOUNT_FLAG_SHIELD) | (flags & ACCOUNT_FLAGS_USER));
	if (nf == u->addr[slot].flags)
		return 0;
	struct users_user tmp = *u;
	tmp.addr[slot].flags = nf;
	return save_commit(db, &tmp);
}

int users_private_set(struct users *db, uint16_t uid, const uint8_t *data, size_t len)
{
	int rc = 0;
	struct users_user *u = get_user(db, uid, &rc);
	if (len > ACCOUNT_PRIVATE_MAX || (len && !data))
		return -EINVAL;
	if (!u)
		return rc;
	struct users_user tmp = *u;
	tmp.priv = NULL;
	tmp.priv_len = (uint16_t)len;
	if (len) {
		tmp.priv = xmalloc(len);
		memcpy(tmp.priv, data, len);
	}
	rc = store_user(db, &tmp);
	if (rc < 0) {
		users_user_clear(&tmp); /* frees only the new field */
		return rc;
	}
	if (u->priv) {
		sodium_memzero(u->priv, u->priv_len);
		free(u->priv);
	}
	commit_user(db, &tmp);
	return 0;
}

int users_private_get(const struct users *db, uint16_t uid, const uint8_t **ret_data,
                      size_t *ret_len)
{
	const struct users_user *u = users_get(db, uid);
	if (uid >= ACCOUNT_USERS_MAX)
		return -EINVAL;
	if (!u)
		return -ENOENT;
	*ret_data = u->priv;
	*ret_len = u->priv_len;
	return 0;
}

int users_lookup_hash(const struct users *db, const uint8_t hash[ADDRHASH_BYTES], bool is_shield,
                      uint16_t *ret_uid, uint8_t *ret_flags)
{
	size_t i = idx_find(db, hash, is_shield);
	if (i == IDX_CAP)
		return -ENOENT;
	uint16_t uid = db->idx[i].tag & IDX_UID;
	int slot = user_find_addr(&db->tab[uid], hash, is_shield);
	if (!db->present[uid] || slot < 0)
		fatalx("users index out of step with user %u", uid);
	*ret_uid = uid;
	*ret_flags = db->tab[uid].addr[slot].flags;
	return 0;
}

int users_mta_lookup(const struct users *db, const uint8_t hash[ADDRHASH_BYTES], bool is_shield,
                     uint16_t *ret_uid, uint8_t *ret_flags)
{
	uint8_t d[crypto_shorthash_BYTES];
	uint16_t uid;
	uint8_t flags;

	/* Computed for every lookup so known and unknown take the same steps. */
	crypto_shorthash(d, hash, ADDRHASH_BYTES, db->settings.decoy_key);
	uint8_t decoy = (uint8_t)((ACCOUNT_FLAGS_NEW & ACCOUNT_FLAGS_MTA) |
	                          (d[0] < ACCOUNT_DECOY_TLS_IN_256 ? ACCOUNT_FLAG_REQUIRE_TLS : 0));
	if (users_lookup_hash(db, hash, is_shield, &uid, &flags) == 0 && (flags & ACCOUNT_FLAG_ACCEXT)) {
		*ret_uid = uid;
		*ret_flags = flags & ACCOUNT_FLAGS_MTA;
		return 0;
	}
	if (is_shield)
		return -ENOENT;
	*ret_uid = ACCOUNT_UID_NONE;
	*ret_flags = decoy;
	return 0;
}

int users_storage_info(const struct users *db, uint16_t uid, uint8_t ret_epk[ACCOUNT_EPK_BYTES],
                       uint32_t *ret_storage_mib)
{
	const struct users_user *u = users_get(db, uid);
	if (uid >= ACCOUNT_USERS_MAX)
		return -EINVAL;
	if (!u)
		return -ENOENT;
	memcpy(ret_epk, u->epk, ACCOUNT_EPK_BYTES);
	*ret_storage_mib = db->settings.limits[u->level].storage_mib;
	return 0;
}

int users_check_and_update_time(struct users *db, uint16_t uid, uint64_t request_ms,
                                uint64_t now_ms, uint64_t window_ms)
{
	int rc = 0;
	struct users_user *u = get_user(db, uid, &rc);
	if (!u)
		return rc;
	uint64_t diff = request_ms > now_ms ? request_ms - now_ms : now_ms - request_ms;
	if (diff > window_ms)
		return -ERANGE;
	if (request_ms <= u->last_request_ms)
		return -EALREADY;
	u->last_request_ms = request_ms;
	return 0;
}

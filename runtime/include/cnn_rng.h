/* cnn_rng.h: a counter-based random number generator.
 *
 * Every random draw in cnnc is a pure function of (seed, stream, a, b): the
 * key says what the number is for (which epoch, which image, which weight),
 * not when it was asked for. So results do not depend on thread count,
 * timing, or whether a run was resumed. The mixer is SplitMix64's finalizer
 * applied to a combination of the inputs (strong enough for augmentation,
 * shuffling, dropout and initialisation; not for cryptography). */
#ifndef CNN_RNG_H
#define CNN_RNG_H

#include <stdint.h>

/* Streams: what a draw is for. Keep the values stable (they feed checkpoints). */
enum {
    CNN_RNG_INIT = 1,      /* a = tensor index, b = element */
    CNN_RNG_SPLIT = 2,     /* a = class, b = position */
    CNN_RNG_SHUFFLE = 3,   /* a = epoch, b = position */
    CNN_RNG_AUGMENT = 4,   /* a = epoch, b = image index * 16 + parameter */
    CNN_RNG_DROPOUT = 5    /* a = step * 64 + layer, b = element */
};

static inline uint64_t cnn_mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* cnn_rng_u64 in two steps, for loops over b with the rest fixed (dropout
 * masks): the key of (seed, stream, a) once, then one mix per draw.
 * cnn_rng_u64(seed, stream, a, b) == cnn_rng_u64_keyed(cnn_rng_key(seed, stream, a), b). */
static inline uint64_t cnn_rng_key(uint64_t seed, uint64_t stream, uint64_t a)
{
    return cnn_mix64(cnn_mix64(seed ^ cnn_mix64(stream)) ^ a);
}

static inline uint64_t cnn_rng_u64_keyed(uint64_t key, uint64_t b)
{
    return cnn_mix64(key ^ (b * 0xd6e8feb86659fd93ull));
}

static inline uint64_t cnn_rng_u64(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b)
{
    return cnn_rng_u64_keyed(cnn_rng_key(seed, stream, a), b);
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double cnn_rng_uniform(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b)
{
    return (double)(cnn_rng_u64(seed, stream, a, b) >> 11) * (1.0 / 9007199254740992.0);
}

#endif

/*
 * opconnect/export.h - symbol visibility and compiler attributes.
 *
 * OPC_API marks every exported declaration. The library is built with
 * -fvisibility=hidden, so only OPC_API symbols leave libopconnect.so.
 * Define OPC_STATIC when linking libopconnect.a into a program to make
 * OPC_API expand to nothing.
 */
#ifndef OPCONNECT_EXPORT_H
#define OPCONNECT_EXPORT_H

#if defined(OPC_STATIC)
#define OPC_API
#elif defined(__GNUC__) || defined(__clang__)
#define OPC_API __attribute__((visibility("default")))
#else
#define OPC_API
#endif

#if defined(__GNUC__) || defined(__clang__)
#define OPC_NODISCARD __attribute__((warn_unused_result))
#define OPC_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define OPC_NODISCARD
#define OPC_PRINTF(fmt, args)
#endif

/*
 * OPC_NONNULL documents arguments that must not be NULL. It is switched off
 * while the library itself is compiled (OPC_BUILDING): the compiler would
 * otherwise drop the run-time NULL checks that return OPC_ERR_INVALID_ARG.
 */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(OPC_BUILDING)
#define OPC_NONNULL(...) __attribute__((nonnull(__VA_ARGS__)))
#else
#define OPC_NONNULL(...)
#endif

/*
 * OPC_DEPRECATED("since 0.4; use opc_foo_v2") marks a retired function.
 * Define OPC_NO_DEPRECATION to silence the warnings.
 */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(OPC_BUILDING) && \
    !defined(OPC_NO_DEPRECATION)
#define OPC_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#define OPC_DEPRECATED(msg)
#endif

#endif /* OPCONNECT_EXPORT_H */

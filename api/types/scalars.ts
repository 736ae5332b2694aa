/** The wire formats (api/wire.ts) as GraphQL scalars: each parses a variable and a literal alike. */
import { Kind, type ValueNode } from "graphql";
import { builder } from "../builder";
import { formatDateTime, parseAddress, parseBigInt, parseBytes32, parseDateTime } from "../wire";

/** Only string literals are accepted, so that a literal and a variable parse the same way. */
function fromStringLiteral<T>(parse: (value: unknown) => T) {
  return (node: ValueNode) => parse(node.kind === Kind.STRING ? node.value : `<${node.kind}>`);
}

builder.scalarType("BigInt", {
  description: "An integer of any size (uint256 amounts in wei), as a decimal string.",
  serialize: (value) => value.toString(),
  parseValue: parseBigInt,
  // An integer literal is exact in the query text, unlike a JSON number in variables.
  parseLiteral: (node) => parseBigInt(node.kind === Kind.INT || node.kind === Kind.STRING ? node.value : `<${node.kind}>`),
});

builder.scalarType("Address", {
  description: "A 20-byte address: 0x and 40 hex digits, any case in, lowercase out.",
  serialize: (value) => value.toLowerCase(),
  parseValue: parseAddress,
  parseLiteral: fromStringLiteral(parseAddress),
});

builder.scalarType("Bytes32", {
  description: "32 bytes as 0x and 64 hex digits (task ids, transaction hashes), lowercase out.",
  serialize: (value) => value.toLowerCase(),
  parseValue: parseBytes32,
  parseLiteral: fromStringLiteral(parseBytes32),
});

builder.scalarType("DateTime", {
  description: "An instant as ISO-8601 in UTC, e.g. 2025-01-31T12:00:00.000Z.",
  serialize: formatDateTime,
  parseValue: parseDateTime,
  parseLiteral: fromStringLiteral(parseDateTime),
});

// Plural rules: gettext's Plural-Forms expression (a small C expression of n), evaluated without eval(),
// which the page's Content-Security-Policy forbids.

const BINARY = { "||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, ">": 4, "<=": 4, ">=": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6 };
const TOKEN = /\s*(\d+|n|\|\||&&|==|!=|<=|>=|[-+*/%<>!?:()])/y;

function tokenize(expression) {
  const tokens = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < expression.length) {
    if (/^\s*$/.test(expression.slice(TOKEN.lastIndex))) break;
    const match = TOKEN.exec(expression);
    if (!match) throw new SyntaxError(`plural rule: unexpected text in ${expression}`);
    tokens.push(match[1]);
  }
  return tokens;
}

function apply(op, a, b) {
  switch (op) {
    case "||": return (n) => (a(n) || b(n) ? 1 : 0);
    case "&&": return (n) => (a(n) && b(n) ? 1 : 0);
    case "==": return (n) => (a(n) === b(n) ? 1 : 0);
    case "!=": return (n) => (a(n) !== b(n) ? 1 : 0);
    case "<": return (n) => (a(n) < b(n) ? 1 : 0);
    case ">": return (n) => (a(n) > b(n) ? 1 : 0);
    case "<=": return (n) => (a(n) <= b(n) ? 1 : 0);
    case ">=": return (n) => (a(n) >= b(n) ? 1 : 0);
    case "+": return (n) => a(n) + b(n);
    case "-": return (n) => a(n) - b(n);
    case "*": return (n) => a(n) * b(n);
    case "/": return (n) => (b(n) === 0 ? 0 : Math.trunc(a(n) / b(n)));
    default: return (n) => (b(n) === 0 ? 0 : a(n) % b(n));
  }
}

// Returns n -> index of the plural form; throws SyntaxError on a rule it cannot read.
export function compilePluralRule(expression) {
  const tokens = tokenize(expression);
  let at = 0;
  const peek = () => tokens[at];
  const take = (expected) => {
    const token = tokens[at++];
    if (expected !== undefined && token !== expected) throw new SyntaxError(`plural rule: expected ${expected} in ${expression}`);
    if (token === undefined) throw new SyntaxError(`plural rule: ends early: ${expression}`);
    return token;
  };
  function unary() {
    const token = take();
    if (token === "!") {
      const operand = unary();
      return (n) => (operand(n) ? 0 : 1);
    }
    if (token === "(") {
      const inner = ternary();
      take(")");
      return inner;
    }
    if (token === "n") return (n) => n;
    if (/^\d+$/.test(token)) {
      const value = Number(token);
      return () => value;
    }
    throw new SyntaxError(`plural rule: unexpected ${token} in ${expression}`);
  }
  function binary(minimum) {
    let left = unary();
    while (BINARY[peek()] >= minimum) {
      const op = take();
      left = apply(op, left, binary(BINARY[op] + 1));
    }
    return left;
  }
  function ternary() {
    const condition = binary(1);
    if (peek() !== "?") return condition;
    take("?");
    const then = ternary();
    take(":");
    const otherwise = ternary();
    return (n) => (condition(n) ? then(n) : otherwise(n));
  }
  const rule = ternary();
  if (at !== tokens.length) throw new SyntaxError(`plural rule: unexpected ${peek()} in ${expression}`);
  return (n) => Number(rule(n));
}

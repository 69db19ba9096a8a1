/*
 * The import's row errors in Chinese. The hub words them in English for a
 * technician ("phone: 'abc' is not a phone number (…)"); an office clerk
 * reads "电话：“abc”不是电话号码". Known shapes are rewritten here (the
 * hub's wording is in sessions/people/importer.py and plan.py); anything
 * else is shown as the hub wrote it. The original stays in the tooltip.
 */

const FIELDS = {
  name: "名称/姓名", kind: "类别", parent: "上级", site: "站点", phone: "电话", level: "层级",
  code: "编号", note: "备注", committee: "委员会", groups: "分组",
};
const KINDS = { city: "市级", district: "区级", township: "乡镇（街道）", station: "联络站", department: "部门" };
const QUOTED = String.raw`(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")`;

const RULES = [
  [/^site: outside your district/, () => "站点：不在您负责的范围内（操作员只能添加本站点及下级站点的人员）"],
  [/^parent: outside your district/, () => "上级：不在您负责的范围内（操作员只能在本站点之下添加站点）"],
  [new RegExp(String.raw`^parent: ${QUOTED} is neither a site's id or name in the directory nor a row of this file$`),
    (m) => `上级：找不到“${q(m)}”（名录和本文件中都没有这个站点）`],
  [new RegExp(String.raw`^parent: ${QUOTED} names (\d+) sites; give the parent's id$`),
    (m) => `上级：有 ${m[3]} 个站点都叫“${q(m)}”，请改填上级站点的编号（id）`],
  [new RegExp(String.raw`^parent: ${QUOTED} \(line (\d+)\) is itself refused$`),
    (m) => `上级：“${q(m)}”（第 ${m[3]} 行）本身有错误，请先改正那一行`],
  [new RegExp(String.raw`^parent: ${QUOTED} leads back to this row`), (m) => `上级：“${q(m)}”绕回了本行（上下级关系成了一个圈）`],
  [/^kind: a (\w+) cannot sit under (?:a (\w+) \((.*)\)|nothing)$/,
    (m) => (m[2] ? `类别：${KINDS[m[1]] || m[1]}不能放在${KINDS[m[2]] || m[2]}“${m[3]}”之下` : `类别：${KINDS[m[1]] || m[1]}必须有上级站点`)],
  [new RegExp(String.raw`^site: ${QUOTED} is neither the id nor the name of a site in the directory`),
    (m) => `站点：名录中没有“${q(m)}”（请先导入站点表，或改正站点名称）`],
  [new RegExp(String.raw`^site: ${QUOTED} names (\d+) sites`), (m) => `站点：有 ${m[3]} 个站点都叫“${q(m)}”，请改填站点编号（id）`],
  [new RegExp(String.raw`^phone: ${QUOTED} is not a phone number`), (m) => `电话：“${q(m)}”不是电话号码`],
  [new RegExp(String.raw`^(\w+): ${QUOTED} is not (.*)$`), (m) => `${field(m[1])}：“${m[2] ?? m[3]}”无法识别（可填：${choices(m[4])}）`],
  [/^(\w+): is empty(?:; expected (.*))?$/, (m) => `${field(m[1])}：未填写${m[2] ? `（应填：${m[2]}）` : ""}`],
  [/^(\w+): is longer than (\d+) characters$/, (m) => `${field(m[1])}：超过 ${m[2]} 个字`],
  [/^the header \(line (\d+)\) has no column for (.*)$/, (m) => `表头（第 ${m[1]} 行）缺少必需的列：${m[2]}`],
  [/^the XLSX workbook cannot be read/, () => "这个 Excel 文件打不开，请另存为 .xlsx 或 CSV 后再试"],
  [/^the CSV cannot be read at line (\d+)/, (m) => `CSV 文件第 ${m[1]} 行无法读取`],
];

function q(m) {
  return m[1] ?? m[2] ?? "";
}

/** "a site kind (市/区/… or city/district/…)" → "市/区/…": the Chinese choices the hub lists first. */
function choices(expected) {
  const open = expected.indexOf("(");
  if (open < 0) return expected;
  const or = expected.indexOf(" or ", open);
  return expected.slice(open + 1, or > 0 ? or : expected.lastIndexOf(")"));
}

function field(name) {
  return FIELDS[name] || name;
}

/** The hub's message in Chinese when its shape is known; else as it came. */
export function zhMessage(message) {
  const text = String(message ?? "");
  for (const [pattern, say] of RULES) {
    const m = text.match(pattern);
    if (m) return say(m);
  }
  return text;
}

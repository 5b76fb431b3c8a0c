"""The demo patients."""

from typing import NamedTuple

# --- Patients ---------------------------------------------------------------------------------


class PatientSpec(NamedTuple):
    name: str
    sex: str  # "M" or "F"
    born: str  # ISO date; the ID-card number is built from it
    area: str  # first six digits of the ID-card number, where the person was first registered
    cases: str  # keys of CASES, oldest first
    allergies: str = ""  # keys of ALLERGIES
    account: str = ""  # username of the patient's own login
    guardian: str = ""  # username of the login that manages this child's care


# Demo MRNs are numbered from here in list order, so new specs go at the end. Registration numbers
# patients from their primary key (P00000001, ...), which will not reach this range, so seeding a
# database that already holds real patients neither collides with nor adopts one of them.
FIRST_DEMO_MRN = 90_000_001

PATIENTS: tuple[PatientSpec, ...] = (
    PatientSpec("张国华", "M", "1952-04-18", "110101", "hypertension coronary", "penicillin"),
    PatientSpec("李秀英", "F", "1949-11-02", "110105", "hypertension diabetes"),
    PatientSpec("王志刚", "M", "1961-07-23", "310104", "coronary"),
    PatientSpec("刘桂兰", "F", "1945-02-09", "320102", "heart-failure"),
    PatientSpec("陈建华", "M", "1958-09-30", "440106", "nstemi", "seafood"),
    PatientSpec("杨淑珍", "F", "1955-06-14", "330106", "hypertension atrial-fibrillation"),
    PatientSpec("赵德明", "M", "1966-12-05", "420106", "hypertension"),
    PatientSpec("黄美玲", "F", "1970-03-27", "440106", "hypertension", "sulfonamide"),
    PatientSpec("周永强", "M", "1963-08-11", "510107", "diabetes coronary", "contrast"),
    PatientSpec("吴春梅", "F", "1959-05-19", "370102", "atrial-fibrillation"),
    PatientSpec("徐海涛", "M", "1975-10-08", "310115", "reflux hypertension"),
    PatientSpec("孙玉兰", "F", "1947-01-25", "110101", "hypertension heart-failure"),
    PatientSpec("马建军", "M", "1968-04-03", "610113", "coronary"),
    PatientSpec("朱丽华", "F", "1962-12-17", "320102", "knee-osteoarthritis hypertension"),
    PatientSpec("胡振东", "M", "1957-07-07", "420106", "hypertension stroke"),
    PatientSpec("郭秀兰", "F", "1953-09-22", "370102", "atrial-fibrillation", "penicillin"),
    PatientSpec("何文斌", "M", "1972-02-14", "330106", "diabetes hypertension"),
    PatientSpec("林建平", "M", "1960-11-29", "440305", "coronary"),
    PatientSpec("高晓东", "M", "1985-05-16", "110105", "pneumonia"),
    PatientSpec("罗德胜", "M", "1950-08-08", "510107", "copd"),
    PatientSpec("梁雪", "F", "1992-10-21", "440106", "asthma", "pollen dust-mite"),
    PatientSpec("宋佳怡", "F", "1998-06-30", "310104", "pneumonia"),
    PatientSpec("郑国强", "M", "1954-03-03", "330106", "hypertension copd"),
    PatientSpec("谢晓峰", "M", "1988-01-12", "420106", "gastritis"),
    PatientSpec("韩梅", "F", "1979-07-19", "110101", "reflux"),
    PatientSpec("唐建新", "M", "1964-04-26", "610113", "diabetes gastritis"),
    PatientSpec("冯婷婷", "F", "1995-09-09", "320102", "gastritis", "seafood"),
    PatientSpec("于洪涛", "M", "1969-12-12", "370102", "diabetes"),
    PatientSpec("董丽娟", "F", "1983-02-28", "310115", "hyperthyroidism"),
    PatientSpec("程建伟", "M", "1977-08-15", "510107", "diabetes", "cephalosporin"),
    PatientSpec("曹雅婷", "F", "1990-04-04", "330106", "hyperthyroidism"),
    PatientSpec("袁晓丽", "F", "1987-11-11", "440305", "migraine"),
    PatientSpec("邓福生", "M", "1951-10-10", "420106", "hypertension stroke"),
    PatientSpec("许静", "F", "1993-01-30", "110105", "migraine"),
    PatientSpec("傅强", "M", "1980-06-06", "310104", "lumbar-disc"),
    PatientSpec("沈桂珍", "F", "1956-03-18", "320102", "knee-osteoarthritis"),
    PatientSpec("曾凯", "M", "1991-09-25", "440106", "lumbar-disc"),
    PatientSpec("彭秀芝", "F", "1948-12-01", "610113", "hypertension knee-osteoarthritis"),
    PatientSpec("吕志勇", "M", "1974-05-05", "330106", "gallstones"),
    PatientSpec("苏晴", "F", "1996-08-20", "370102", "appendicitis"),
    PatientSpec("蒋文华", "M", "1967-10-31", "510107", "gallstones", "penicillin"),
    PatientSpec("蔡丽萍", "F", "1978-03-09", "420106", "fibroid"),
    PatientSpec("贾晓燕", "F", "1982-07-14", "110101", "fibroid"),
    PatientSpec("丁磊", "M", "1994-12-24", "440305", "gastroenteritis"),
    PatientSpec("魏强", "M", "1989-02-17", "310115", "gastroenteritis", "peanut"),
    PatientSpec("林晓雯", "F", "1988-09-16", "310104", "reflux", account="patient"),
    PatientSpec("陈子轩", "M", "2019-05-20", "310104", "bronchitis", guardian="patient"),
    PatientSpec("周雨桐", "F", "2017-11-03", "110105", "upper-respiratory"),
    PatientSpec("刘浩宇", "M", "2020-02-29", "440106", "bronchitis"),
    # Foreign permanent residents: the 2023 card number starts with 9, then the province of issue
    # and the ISO 3166 numeric nationality, and is checked like a resident ID-card number.
    PatientSpec("James Miller", "M", "1971-04-12", "931840", "hypertension"),
    PatientSpec("Sophie Martin", "F", "1986-10-05", "911250", "asthma", "pollen"),
    PatientSpec("David Thompson", "M", "1965-01-22", "911826", "coronary", "penicillin"),
    PatientSpec("Anna Schmidt", "F", "1990-06-18", "931276", "gastritis"),
)

ADDRESSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "110101": ("北京市东城区", ("东四十条", "和平里北街", "东直门内大街")),
    "110105": ("北京市朝阳区", ("望京西路", "朝阳北路", "劲松南路")),
    "310104": ("上海市徐汇区", ("漕溪北路", "天钥桥路", "宛平南路")),
    "310115": ("上海市浦东新区", ("张杨路", "东方路", "锦绣路")),
    "320102": ("江苏省南京市玄武区", ("中山路", "北京东路", "龙蟠路")),
    "330106": ("浙江省杭州市西湖区", ("文三路", "教工路", "天目山路")),
    "370102": ("山东省济南市历下区", ("泉城路", "解放路", "文化东路")),
    "420106": ("湖北省武汉市武昌区", ("中南路", "武珞路", "中北路")),
    "440106": ("广东省广州市天河区", ("天河北路", "体育西路", "中山大道西")),
    "440305": ("广东省深圳市南山区", ("科技南路", "南海大道", "后海大道")),
    "510107": ("四川省成都市武侯区", ("人民南路四段", "科华北路", "武侯祠大街")),
    "610113": ("陕西省西安市雁塔区", ("小寨西路", "长安南路", "雁塔北路")),
    "911250": ("北京市朝阳区", ("亮马桥路", "东三环北路")),
    "911826": ("北京市朝阳区", ("建国门外大街", "光华路")),
    "931276": ("上海市长宁区", ("虹桥路", "古北路")),
    "931840": ("上海市浦东新区", ("世纪大道", "碧云路")),
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余杜叶程"
GIVEN_MALE = ("建国", "志强", "伟", "磊", "军", "勇", "明", "海波", "俊杰", "浩", "国平", "家豪")
GIVEN_FEMALE = ("秀兰", "丽", "静", "敏", "芳", "娟", "晓燕", "丽娜", "雪梅", "婷", "慧", "佳")
FOREIGN_GIVEN = {"M": ("Michael", "Thomas", "Peter"), "F": ("Emily", "Laura", "Claire")}
MOBILE_PREFIXES = ("135", "138", "139", "150", "158", "186", "187", "177", "133", "189", "199")

"""The demo hospital's clinic data: departments, staff, patients and their charts.

Run through ``manage.py seed_demo``; each ``seed_*`` function is one step of that command and
returns how many rows of each kind it created. Every step is idempotent: rows are found by their
natural key (department code, username, MRN) and only missing ones are created, validated with
``full_clean()``. A chart is generated only together with its patient, from a random generator
seeded with the patient's MRN, so the content is the same on every installation and a second run
adds nothing. Dates are relative to the day of seeding and always in the past.
"""

import random
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.contrib.auth.hashers import make_password
from django.db.models import Model
from django.utils import timezone

from .audit import Actor, audit_record
from .codes import OBSERVATION_CODES
from .models import (
    AllergyIntolerance,
    AuditAction,
    Condition,
    Department,
    Dependant,
    Encounter,
    EncounterKind,
    EpisodeOfCare,
    Observation,
    Patient,
    Practitioner,
    PractitionerTitle,
    Relationship,
    Role,
    Sex,
    User,
)
from .validators import id_card_check_char

DEMO_PASSWORD = "aimass-demo"

# --- Departments ------------------------------------------------------------------------------

DEPARTMENTS: tuple[tuple[str, str, str, tuple[tuple[str, str, str], ...]], ...] = (
    ("internal", "内科", "Internal Medicine", (
        ("cardiology", "心血管内科", "Cardiology"),
        ("respiratory", "呼吸内科", "Respiratory Medicine"),
        ("gastroenterology", "消化内科", "Gastroenterology"),
        ("neurology", "神经内科", "Neurology"),
        ("endocrinology", "内分泌科", "Endocrinology"),
    )),
    ("surgery", "外科", "Surgery", (
        ("general-surgery", "普通外科", "General Surgery"),
        ("orthopaedics", "骨科", "Orthopaedics"),
        ("neurosurgery", "神经外科", "Neurosurgery"),
        ("thoracic-surgery", "胸外科", "Thoracic Surgery"),
    )),
    ("paediatrics", "儿科", "Paediatrics", (
        ("paediatric-medicine", "小儿内科", "Paediatric Medicine"),
    )),
    ("obstetrics-gynaecology", "妇产科", "Obstetrics and Gynaecology", (
        ("gynaecology", "妇科", "Gynaecology"),
        ("obstetrics", "产科", "Obstetrics"),
    )),
    ("medical-technology", "医技科室", "Medical Technology", (
        ("radiology", "医学影像科", "Radiology"),
        ("laboratory", "检验科", "Clinical Laboratory"),
    )),
    ("emergency-medicine", "急诊医学科", "Emergency Medicine", (
        ("emergency", "急诊科", "Emergency Department"),
    )),
)
DEPARTMENT_NAMES = {
    code: name
    for division, name_zh, _en, children in DEPARTMENTS
    for code, name in [(division, name_zh), *[(c, n) for c, n, _ in children]]
}

# --- Staff ------------------------------------------------------------------------------------


class DemoUser(NamedTuple):
    username: str
    role: str
    full_name: str
    department: str = ""  # department code
    title: str = ""  # PractitionerTitle; empty for users without a practitioner profile
    specialty: str = ""
    bio: str = ""


_T = PractitionerTitle
DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", Role.ADMIN, "系统管理员"),
    DemoUser(
        "doctor", Role.DOCTOR, "王建国", "cardiology", _T.CHIEF, "冠心病介入诊疗、高血压、心力衰竭",
        "主任医师，医学博士，从事心血管内科临床工作二十余年，擅长冠心病介入诊疗及高血压、"
        "心力衰竭的规范化管理。",
    ),
    DemoUser(
        "doctor2", Role.DOCTOR, "李慧敏", "respiratory", _T.ASSOCIATE_CHIEF,
        "慢性阻塞性肺疾病、肺部感染、支气管哮喘",
        "副主任医师，从事呼吸内科工作十五年，擅长慢阻肺、哮喘的长期管理及重症肺炎救治。",
    ),
    DemoUser(
        "doctor3", Role.DOCTOR, "张伟", "gastroenterology", _T.ATTENDING,
        "消化内镜、幽门螺杆菌感染、胃食管反流病",
        "主治医师，医学硕士，擅长胃肠镜检查及内镜下治疗，幽门螺杆菌感染的规范化根除。",
    ),
    DemoUser(
        "doctor4", Role.DOCTOR, "刘芳", "endocrinology", _T.ASSOCIATE_CHIEF, "糖尿病、甲状腺疾病",
        "副主任医师，从事内分泌代谢病临床工作十余年，擅长糖尿病综合管理及甲状腺疾病诊治。",
    ),
    DemoUser(
        "doctor5", Role.DOCTOR, "陈志远", "neurology", _T.ATTENDING, "脑血管病、头痛、癫痫",
        "主治医师，卒中中心骨干医师，擅长急性缺血性脑卒中的救治与二级预防及头痛诊疗。",
    ),
    DemoUser(
        "doctor6", Role.DOCTOR, "杨帆", "orthopaedics", _T.ASSOCIATE_CHIEF, "脊柱外科、关节外科",
        "副主任医师，擅长腰椎间盘突出症、颈椎病的微创治疗及膝骨关节炎的阶梯化治疗。",
    ),
    DemoUser(
        "doctor7", Role.DOCTOR, "赵永刚", "general-surgery", _T.CHIEF, "肝胆胰外科、腹腔镜微创手术",
        "主任医师，从事普通外科工作二十五年，完成腹腔镜胆囊、阑尾等微创手术数千例。",
    ),
    DemoUser(
        "doctor8", Role.DOCTOR, "周静", "radiology", _T.ASSOCIATE_CHIEF, "胸部及心血管CT、MRI诊断",
        "副主任医师，从事医学影像诊断工作十五年，擅长胸部及心血管CT、MRI诊断，"
        "参与肺结节人工智能辅助诊断研究。",
    ),
    DemoUser(
        "doctor9", Role.DOCTOR, "孙丽华", "paediatric-medicine", _T.ATTENDING,
        "小儿呼吸系统疾病、儿童哮喘",
        "主治医师，擅长儿童呼吸道感染、儿童哮喘及小儿常见病的诊治。",
    ),
    DemoUser(
        "doctor10", Role.DOCTOR, "吴磊", "emergency", _T.RESIDENT, "急危重症",
        "住院医师，急诊科轮转，参与胸痛、卒中、创伤等急危重症的首诊与抢救。",
    ),
    DemoUser(
        "doctor11", Role.DOCTOR, "郑雅琴", "gynaecology", _T.CHIEF, "子宫肌瘤、妇科腹腔镜手术",
        "主任医师，从事妇产科工作近三十年，擅长子宫肌瘤、卵巢囊肿的微创手术治疗。",
    ),
    DemoUser(
        "nurse", Role.NURSE, "陈静", "cardiology", _T.HEAD_NURSE, "心血管专科护理",
        "心血管内科护士长，主管护师，擅长心力衰竭患者的护理与健康教育。",
    ),
    DemoUser("nurse2", Role.NURSE, "林晓燕", "respiratory", _T.NURSE, "呼吸专科护理"),
    DemoUser("nurse3", Role.NURSE, "黄丽", "neurology", _T.NURSE, "卒中单元护理"),
    DemoUser("nurse4", Role.NURSE, "徐婷", "emergency", _T.NURSE, "急诊分诊"),
    DemoUser("scheduler", Role.SCHEDULER, "马丽萍"),
    DemoUser("reception", Role.RECEPTIONIST, "郭晓明"),
    DemoUser("patient", Role.PATIENT, "林晓雯"),
)
DEMO_USERS_BY_NAME = {u.username: u for u in DEMO_USERS}


@dataclass(frozen=True)
class DemoLogin:
    role: str
    username: str
    password: str
    name: str
    department: str


def demo_logins() -> list[DemoLogin]:
    """The logins ``seed_demo`` prints, one password for all."""
    return [
        DemoLogin(
            str(Role(u.role).label), u.username, DEMO_PASSWORD, u.full_name,
            DEPARTMENT_NAMES.get(u.department, ""),
        )
        for u in DEMO_USERS
    ]


# --- Clinical content -------------------------------------------------------------------------


@dataclass(frozen=True)
class Vitals:
    """Ranges a reading is drawn from; the defaults are a healthy adult's."""

    sbp: tuple[float, float] = (108, 128)
    dbp: tuple[float, float] = (66, 82)
    hr: tuple[float, float] = (62, 84)
    temp: tuple[float, float] = (36.2, 36.9)
    rr: tuple[float, float] = (14, 19)
    spo2: tuple[float, float] = (96, 99)


NORMAL_ADULT = Vitals()
NORMAL_CHILD = Vitals(sbp=(90, 104), dbp=(54, 66), hr=(84, 108), rr=(20, 26), spo2=(97, 100))
VITAL_CODES = (("sbp", "8480-6"), ("dbp", "8462-4"), ("hr", "8867-4"), ("temp", "8310-5"))
EXTRA_VITAL_CODES = (("rr", "9279-1"), ("spo2", "59408-5"))
NORMAL_LABS = {
    "15074-8": (4.4, 6.0), "4548-4": (5.0, 6.1), "718-7": (122, 150), "6690-2": (4.5, 8.5),
    "2160-0": (55, 95),
}
LAB_TEXT = {
    "15074-8": ("血糖", "mmol/L"), "4548-4": ("糖化血红蛋白", "%"), "718-7": ("血红蛋白", "g/L"),
    "6690-2": ("白细胞计数", "×10⁹/L"), "2160-0": ("血肌酐", "μmol/L"),
}
DECIMALS = {"8310-5": 1, "29463-7": 1, "15074-8": 1, "4548-4": 1, "6690-2": 1}
ADMISSION_LABS = (("718-7", 122, 150), ("6690-2", 4.5, 8.5), ("2160-0", 55, 95))


class Visit(NamedTuple):
    chief_complaint: str
    present_illness: str
    physical_exam: str
    findings: str  # investigations besides the lab values recorded as observations
    diagnosis: str
    treatment_plan: str


@dataclass(frozen=True)
class Case:
    """A presentation: its first visit, optional follow-ups, and what it leaves in the chart."""

    department: str
    doctor: str
    first: Visit
    conditions: tuple[tuple[str, str], ...]  # (ICD-10 code, description)
    past_note: str  # how this case reads in the past history of the patient's later visits
    vitals: Vitals = NORMAL_ADULT
    labs: tuple[tuple[str, float, float], ...] = ()
    follow_up: Visit | None = None
    kind: str = EncounterKind.OUTPATIENT
    via_emergency: Visit | None = None  # seen in the emergency department, then admitted
    stay_days: int = 0  # inpatient: the expected length of stay
    still_admitted: bool = False
    chronic: bool = True
    onset_days: int = 3  # how long before the first visit it began, as its chief complaint says
    child: bool = False
    female_only: bool = False


_NO_SIGNS = (
    "神志清，精神可。双肺呼吸音清，未闻及干湿啰音。心率齐，各瓣膜听诊区未闻及病理性杂音。"
    "双下肢无水肿。"
)
_INPATIENT = EncounterKind.INPATIENT

CASES: dict[str, Case] = {
    "hypertension": Case(
        "cardiology", "doctor",
        Visit(
            "发现血压升高2年，头晕1周",
            "患者2年前体检发现血压升高，最高160/100mmHg，未规律服药。1周前无明显诱因出现头晕，"
            "以晨起为著，无视物旋转，无胸闷胸痛，无肢体无力。",
            _NO_SIGNS, "心电图：窦性心律，左心室高电压。",
            "原发性高血压 2级（高危）",
            "1. 氨氯地平片 5mg 口服 每日1次；2. 低盐低脂饮食，每日食盐<5g，规律运动，戒烟限酒；"
            "3. 家庭自测血压并记录；4. 2周后门诊复诊。",
        ),
        (("I10", "原发性高血压"),), "高血压病史，口服氨氯地平降压",
        onset_days=730,
        vitals=Vitals(sbp=(152, 172), dbp=(92, 104), hr=(72, 90)),
        labs=(("2160-0", 62, 98), ("15074-8", 4.8, 6.0)),
        follow_up=Visit(
            "高血压复诊",
            "规律服用氨氯地平5mg每日1次，家庭自测血压波动于128-142/80-90mmHg，头晕较前明显缓解，"
            "无踝部水肿等不适。",
            _NO_SIGNS, "", "原发性高血压 2级（高危）",
            "继续氨氯地平 5mg 每日1次；低盐饮食，控制体重；3个月后复诊，复查血脂、肾功能。",
        ),
    ),
    "coronary": Case(
        "cardiology", "doctor",
        Visit(
            "活动后胸闷1月",
            "患者1月前快步行走或爬楼2层后出现胸骨后闷痛，范围约手掌大小，无放射，持续3-5分钟，"
            "休息后可缓解，无夜间阵发性呼吸困难，无晕厥。",
            "神志清。双肺呼吸音清。心界不大，心率齐，各瓣膜听诊区未闻及杂音。双下肢无水肿。",
            "心电图：窦性心律，V4-V6导联ST段压低约0.05mV；心肌肌钙蛋白I阴性。",
            "冠状动脉粥样硬化性心脏病 稳定型心绞痛 心功能I级（NYHA）",
            "1. 阿司匹林肠溶片 100mg 每日1次；2. 阿托伐他汀钙片 20mg 每晚1次；"
            "3. 美托洛尔缓释片 47.5mg 每日1次；4. 预约冠状动脉CTA；5. 胸痛持续不缓解及时急诊就诊。",
        ),
        (("I25.1", "动脉粥样硬化性心脏病"),), "冠心病病史，长期服用阿司匹林、阿托伐他汀",
        onset_days=30,
        vitals=Vitals(sbp=(130, 150), dbp=(78, 90), hr=(68, 84)),
        labs=(("15074-8", 5.0, 6.4), ("2160-0", 65, 105)),
        follow_up=Visit(
            "冠心病复诊",
            "规律服用阿司匹林、阿托伐他汀及美托洛尔。冠脉CTA示前降支近段狭窄约50%-60%。"
            "近期日常活动未再出现胸闷，偶有快走后轻度胸闷，休息1-2分钟缓解。",
            _NO_SIGNS, "冠脉CTA：前降支近段混合斑块，管腔狭窄约50%-60%。",
            "冠状动脉粥样硬化性心脏病 稳定型心绞痛",
            "继续冠心病二级预防药物治疗；低密度脂蛋白胆固醇目标<1.8mmol/L，1月后复查血脂、肝功能；"
            "如症状加重行冠状动脉造影。",
        ),
    ),
    "atrial-fibrillation": Case(
        "cardiology", "doctor",
        Visit(
            "阵发性心悸1周",
            "患者1周前无明显诱因出现心悸，伴乏力，无黑矇、晕厥，每次持续数小时可自行缓解，"
            "发作时自测脉搏不齐。",
            "神志清。双肺呼吸音清。心律绝对不齐，第一心音强弱不等，脉搏短绌。双下肢无水肿。",
            "心电图：心房颤动，平均心室率约110次/分。心脏超声：左心房内径42mm，左室射血分数60%。",
            "心房颤动（阵发性） CHA₂DS₂-VASc评分3分",
            "1. 美托洛尔缓释片 47.5mg 每日1次控制心室率；2. 利伐沙班 20mg 每日1次抗凝，"
            "注意出血倾向；3. 完善24小时动态心电图及甲状腺功能；4. 2周后复诊。",
        ),
        (("I48.0", "阵发性心房颤动"),), "阵发性心房颤动病史，口服利伐沙班抗凝",
        onset_days=7,
        vitals=Vitals(sbp=(125, 145), dbp=(75, 90), hr=(104, 128)),
        labs=(("2160-0", 60, 100), ("718-7", 122, 148)),
        follow_up=Visit(
            "心房颤动复诊",
            "规律服用美托洛尔及利伐沙班，心悸发作次数较前减少，无牙龈出血、黑便。",
            "神志清。心率齐，未闻及杂音。双下肢无水肿。",
            "动态心电图：阵发性心房颤动，总时长约2小时。",
            "心房颤动（阵发性）",
            "继续目前治疗；监测血常规、肾功能；必要时评估导管消融治疗。",
        ),
    ),
    "heart-failure": Case(
        "cardiology", "doctor",
        Visit(
            "活动后气促2年，加重伴双下肢水肿1周",
            "患者2年前开始出现活动后气促，休息后缓解。1周前受凉后气促加重，平地行走50米即感气喘，"
            "夜间需高枕卧位，伴双下肢水肿、尿量减少，门诊以“慢性心力衰竭急性加重”收入院。",
            "半卧位，口唇轻度发绀。双肺底可闻及湿啰音。心界向左下扩大，心尖区可闻及3/6级"
            "收缩期吹风样杂音。双下肢凹陷性水肿（++）。",
            "NT-proBNP 4860pg/mL。心脏超声：左心室扩大，左室射血分数35%。"
            "胸片：心影增大，双肺淤血。",
            "慢性心力衰竭急性加重 射血分数降低的心力衰竭 心功能III级（NYHA）",
            "1. 一级护理，低盐饮食，记24小时出入量，每日称体重；2. 呋塞米 20mg 静脉注射 每日2次；"
            "3. 沙库巴曲缬沙坦 50mg 每日2次，病情稳定后加用美托洛尔缓释片、达格列净；"
            "4. 监测电解质及肾功能。",
        ),
        (("I50.0", "充血性心力衰竭"),), "慢性心力衰竭病史",
        onset_days=730,
        vitals=Vitals(sbp=(135, 155), dbp=(80, 95), hr=(96, 112), rr=(22, 26), spo2=(90, 93)),
        labs=(("2160-0", 105, 135), ("718-7", 112, 128)),
        kind=_INPATIENT, stay_days=9, still_admitted=True,
    ),
    "nstemi": Case(
        "cardiology", "doctor",
        Visit(
            "持续性胸痛3小时（急诊收入）",
            "患者3小时前休息时突发胸骨后压榨样疼痛，伴大汗、恶心，含服硝酸甘油不能缓解。"
            "急诊查心电图及肌钙蛋白诊断急性非ST段抬高型心肌梗死，予双联抗血小板负荷后收入院。",
            "神志清，痛苦面容减轻。双肺呼吸音清。心率齐，未闻及杂音。双下肢无水肿。",
            "冠状动脉造影：前降支近段狭窄90%，植入药物洗脱支架1枚。",
            "急性非ST段抬高型心肌梗死 Killip I级；冠状动脉粥样硬化性心脏病",
            "1. 一级护理，心电监护；2. 阿司匹林 100mg 每日1次+替格瑞洛 90mg 每日2次，"
            "双联抗血小板12个月；3. 阿托伐他汀 40mg 每晚1次；4. 监测心肌酶谱，择期心脏康复评估。",
        ),
        (("I21.4", "急性心内膜下心肌梗死"), ("I25.1", "动脉粥样硬化性心脏病")),
        "急性心肌梗死，前降支支架植入术后",
        onset_days=1,
        vitals=Vitals(sbp=(140, 160), dbp=(85, 98), hr=(90, 108), rr=(18, 24), spo2=(94, 97)),
        labs=(("15074-8", 6.5, 8.5), ("6690-2", 9.0, 11.5)),
        kind=_INPATIENT, stay_days=7, still_admitted=True,
        via_emergency=Visit(
            "持续性胸痛3小时",
            "患者3小时前休息时突发胸骨后压榨样疼痛，伴大汗、恶心，含服硝酸甘油不能缓解，"
            "由家属送至急诊。",
            "痛苦面容，大汗。双肺呼吸音清。心率齐，未闻及杂音。",
            "心电图：V1-V4导联ST段压低0.1-0.2mV。高敏肌钙蛋白I 2.8ng/mL（明显升高）。",
            "急性非ST段抬高型心肌梗死",
            "阿司匹林300mg、替格瑞洛180mg嚼服负荷，低分子肝素抗凝；心内科会诊后收入CCU。",
        ),
    ),
    "pneumonia": Case(
        "respiratory", "doctor2",
        Visit(
            "咳嗽、咳痰伴发热3天",
            "患者3天前受凉后出现咳嗽，咳黄白色黏痰，伴发热，最高体温39.2℃，伴畏寒、乏力，"
            "无咯血，无胸痛。自服感冒药效果不佳。",
            "咽部充血。右下肺呼吸音减低，可闻及湿啰音。心率齐，未闻及杂音。",
            "胸部CT：右肺下叶斑片状渗出影。C反应蛋白 56mg/L。",
            "社区获得性肺炎（非重症）",
            "1. 阿莫西林克拉维酸钾 0.457g 口服 每日2次，疗程7天；2. 多饮水，注意休息；"
            "3. 3天后复诊评估疗效，如持续高热、气促及时就诊；4. 治疗结束后复查胸部CT。",
        ),
        (("J18.9", "肺炎"),), "社区获得性肺炎，已治愈",
        vitals=Vitals(temp=(38.4, 39.2), hr=(92, 108), rr=(20, 24), spo2=(94, 97)),
        labs=(("6690-2", 11.5, 15.8), ("718-7", 125, 150)),
        chronic=False,
    ),
    "copd": Case(
        "respiratory", "doctor2",
        Visit(
            "反复咳嗽、咳痰10年，气促加重5天",
            "患者10年来每逢冬春季反复咳嗽、咳白色泡沫痰，活动后气促。5天前受凉后咳嗽加重，"
            "咳黄脓痰，气促明显，步行数十米即需休息。吸烟40年，每日20支。",
            "桶状胸，双肺叩诊过清音，双肺呼吸音减低，可闻及散在哮鸣音及少许湿啰音。",
            "动脉血气（未吸氧）：pH 7.38，PaO₂ 58mmHg，PaCO₂ 48mmHg。"
            "胸片：双肺纹理增多，肺气肿征。",
            "慢性阻塞性肺疾病急性加重；低氧血症",
            "1. 低流量吸氧1-2L/min，目标血氧饱和度88%-92%；2. 布地奈德+异丙托溴铵雾化吸入 每日3次；"
            "3. 头孢他啶 2g 静脉滴注 每12小时1次；4. 戒烟宣教，出院前评估肺功能及吸入装置使用。",
        ),
        (("J44.1", "慢性阻塞性肺病伴有急性加重"),), "慢性阻塞性肺疾病病史，吸烟40年",
        onset_days=3650,
        vitals=Vitals(
            sbp=(125, 145), dbp=(75, 88), hr=(92, 110), temp=(37.3, 38.0), rr=(22, 28),
            spo2=(86, 90),
        ),
        labs=(("6690-2", 10.5, 13.5),),
        kind=_INPATIENT, stay_days=8, still_admitted=True,
    ),
    "asthma": Case(
        "respiratory", "doctor2",
        Visit(
            "反复发作性喘息5年，加重1周",
            "患者5年来接触花粉或冷空气后反复出现喘息、胸闷、咳嗽，夜间为著，吸入沙丁胺醇后可缓解。"
            "1周前外出踏青后喘息发作频繁，夜间憋醒2次。",
            "呼吸稍促，双肺可闻及散在呼气相哮鸣音。心率齐。",
            "肺功能：FEV₁占预计值72%，支气管舒张试验阳性。呼出气一氧化氮 48ppb。",
            "支气管哮喘（急性发作期，轻度）",
            "1. 布地奈德福莫特罗吸入剂 160/4.5μg 每次1吸 每日2次，并按需使用；2. 避免接触花粉等"
            "过敏原；3. 指导吸入装置使用，记录哮喘日记；4. 4周后复诊。",
        ),
        (("J45.9", "哮喘"),), "支气管哮喘病史，规律吸入布地奈德福莫特罗",
        onset_days=1825,
        vitals=Vitals(hr=(88, 102), rr=(20, 24), spo2=(94, 97)),
        follow_up=Visit(
            "哮喘复诊",
            "规律吸入布地奈德福莫特罗，近4周无夜间憋醒，日间症状每周少于2次，未使用急救药物。",
            "双肺呼吸音清，未闻及哮鸣音。", "", "支气管哮喘（慢性持续期，控制良好）",
            "继续目前吸入治疗，3个月后评估是否降级治疗。",
        ),
    ),
    "gastritis": Case(
        "gastroenterology", "doctor3",
        Visit(
            "上腹部隐痛伴反酸2月",
            "患者2月前无明显诱因出现上腹部隐痛，餐后明显，伴反酸、嗳气，无呕血、黑便，"
            "体重无明显下降。",
            "腹软，剑突下轻压痛，无反跳痛，肝脾肋下未触及，墨菲征阴性，肠鸣音正常。",
            "¹³C尿素呼气试验阳性。胃镜：慢性非萎缩性胃炎伴糜烂。",
            "慢性胃炎；幽门螺杆菌感染",
            "1. 铋剂四联根除幽门螺杆菌14天：艾司奥美拉唑 20mg、胶体果胶铋 200mg、阿莫西林 1g、"
            "克拉霉素 500mg，均每日2次；2. 规律饮食，忌辛辣刺激；3. 停药4周后复查¹³C尿素呼气试验。",
        ),
        (("K29.5", "慢性胃炎"), ("B96.8", "幽门螺杆菌感染")), "慢性胃炎，幽门螺杆菌已根除",
        onset_days=60,
        labs=(("718-7", 118, 145),),
        follow_up=Visit(
            "胃炎复诊",
            "完成14天根除治疗，上腹痛及反酸明显缓解。停药4周复查¹³C尿素呼气试验阴性。",
            "腹软，无压痛。", "¹³C尿素呼气试验阴性。", "慢性胃炎；幽门螺杆菌感染（已根除）",
            "幽门螺杆菌已根除，注意分餐，症状复发时随诊。",
        ),
    ),
    "reflux": Case(
        "gastroenterology", "doctor3",
        Visit(
            "反复烧心、反酸半年",
            "患者半年来反复出现胸骨后烧灼感及反酸，多于饱餐后及平卧时出现，夜间偶有呛咳，"
            "无吞咽困难。",
            "腹软，无压痛，肝脾未触及。", "胃镜：反流性食管炎（洛杉矶分级A级）。",
            "胃食管反流病（反流性食管炎A级）",
            "1. 雷贝拉唑 10mg 每日2次 餐前服用，疗程8周；2. 睡前3小时不进食，抬高床头15-20cm；"
            "3. 8周后复诊。",
        ),
        (("K21.0", "胃食管反流病伴有食管炎"),), "胃食管反流病病史",
        onset_days=180,
        follow_up=Visit(
            "胃食管反流病复诊", "服药后烧心、反酸明显缓解，夜间无呛咳。", "腹软，无压痛。", "",
            "胃食管反流病（反流性食管炎A级）",
            "雷贝拉唑减量至 10mg 每日1次，维持4周后按需服用。",
        ),
    ),
    "diabetes": Case(
        "endocrinology", "doctor4",
        Visit(
            "口干、多饮、多尿3月",
            "患者3月来出现口干、多饮、多尿，每日饮水约3000mL，体重下降约4kg，无视物模糊，"
            "无手足麻木。母亲有糖尿病史。",
            "BMI约26kg/m²。双肺呼吸音清。心率齐。双足背动脉搏动可，双足10g尼龙丝感觉正常。",
            "尿常规：尿糖（++），酮体阴性。",
            "2型糖尿病",
            "1. 二甲双胍缓释片 0.5g 每日2次 随餐服用，逐步加量至1.0g每日2次；2. 糖尿病饮食及运动"
            "指导，控制体重；3. 自我监测空腹及餐后血糖；4. 完善眼底检查、尿白蛋白/肌酐比值；"
            "5. 1月后复诊。",
        ),
        (("E11.9", "2型糖尿病不伴有并发症"),), "2型糖尿病病史，口服二甲双胍",
        onset_days=90,
        labs=(("15074-8", 9.2, 13.8), ("4548-4", 8.2, 9.6), ("2160-0", 58, 92)),
        follow_up=Visit(
            "糖尿病复诊",
            "规律服用二甲双胍1.0g每日2次，饮食控制，每日快走30分钟，自测空腹血糖6-8mmol/L，"
            "无低血糖发作。",
            "双足皮肤完整，足背动脉搏动可。", "", "2型糖尿病",
            "继续二甲双胍治疗；3个月复查糖化血红蛋白，控制目标<7%；每年眼底及尿微量白蛋白筛查。",
        ),
    ),
    "hyperthyroidism": Case(
        "endocrinology", "doctor4",
        Visit(
            "心悸、多汗、体重下降2月",
            "患者2月来出现心悸、怕热、多汗、易激动，食欲亢进但体重下降约5kg，大便次数增多，"
            "无突眼感。",
            "皮肤潮湿，双手细颤（+）。甲状腺II度肿大，质软，可闻及血管杂音。心律齐。",
            "甲状腺功能：FT3 18.6pmol/L↑，FT4 52.3pmol/L↑，TSH<0.005mIU/L↓，TRAb 12.5IU/L↑。"
            "甲状腺超声：弥漫性肿大，血流丰富。",
            "Graves病（甲状腺功能亢进症）",
            "1. 甲巯咪唑 10mg 每日2次；2. 普萘洛尔 10mg 每日3次控制心率；3. 每2周复查血常规、"
            "肝功能，警惕粒细胞缺乏；4. 忌碘饮食；5. 4周后复查甲状腺功能。",
        ),
        (("E05.0", "甲状腺毒症伴有弥漫性甲状腺肿"),), "Graves病，口服甲巯咪唑",
        onset_days=60,
        vitals=Vitals(sbp=(128, 142), dbp=(62, 74), hr=(100, 116), temp=(36.8, 37.3)),
        labs=(("6690-2", 4.5, 6.5),),
        follow_up=Visit(
            "甲亢复诊", "服药后心悸、多汗明显减轻，体重回升约2kg。复查FT3、FT4接近正常。",
            "双手细颤较前减轻，甲状腺II度肿大。", "", "Graves病（甲状腺功能亢进症）",
            "甲巯咪唑减量至 10mg 每日1次；普萘洛尔逐渐停用；每4周复查甲状腺功能及血常规。",
        ),
    ),
    "stroke": Case(
        "neurology", "doctor5",
        Visit(
            "左侧肢体无力伴言语含糊4小时（急诊收入）",
            "患者4小时前晨起时发现左侧肢体无力，持物不稳，行走需搀扶，伴言语含糊，无头痛、呕吐，"
            "无意识障碍。急诊头颅CT排除出血后收入卒中单元。",
            "神志清，构音障碍。左侧鼻唇沟变浅，伸舌左偏。左上肢肌力3级，左下肢肌力4级，"
            "左侧巴宾斯基征阳性。NIHSS评分6分。",
            "头颅MRI：右侧基底节区急性梗死灶（DWI高信号）。颈动脉超声：右侧颈内动脉起始段斑块，"
            "狭窄约40%。",
            "脑梗死（右侧基底节区，急性期）；原发性高血压",
            "1. 阿司匹林 100mg+氯吡格雷 75mg 双联抗血小板21天；2. 阿托伐他汀 40mg 每晚1次；"
            "3. 急性期血压≤220/120mmHg暂不降压；4. 吞咽功能评估，早期康复训练；5. 防跌倒、防压疮。",
        ),
        (("I63.9", "脑梗死"),), "脑梗死病史，遗留左侧肢体轻度无力",
        onset_days=1,
        vitals=Vitals(sbp=(160, 178), dbp=(90, 102), hr=(72, 88), spo2=(95, 98)),
        labs=(("15074-8", 5.6, 7.2), ("2160-0", 60, 100)),
        kind=_INPATIENT, stay_days=10, still_admitted=True,
        via_emergency=Visit(
            "左侧肢体无力伴言语含糊4小时",
            "患者4小时前晨起时发现左侧肢体无力，持物不稳，行走需搀扶，伴言语含糊，无头痛、呕吐。",
            "神志清，构音障碍。左侧肢体肌力3-4级，左侧巴宾斯基征阳性。NIHSS评分6分。",
            "头颅CT：未见出血。", "急性缺血性脑卒中",
            "超出静脉溶栓时间窗，予阿司匹林+氯吡格雷双联抗血小板；神经内科会诊后收入卒中单元。",
        ),
    ),
    "migraine": Case(
        "neurology", "doctor5",
        Visit(
            "反复发作性头痛5年",
            "患者5年来反复发作右侧颞部搏动性头痛，每月2-3次，每次持续4-24小时，伴恶心、畏光、"
            "畏声，活动后加重，月经期易诱发，发作前偶有视物闪光。",
            "神志清，颅神经检查未见异常，四肢肌力5级，病理征阴性，脑膜刺激征阴性。",
            "头颅MRI：未见明显异常。",
            "偏头痛（有先兆）",
            "1. 急性发作时口服布洛芬 0.3g 或利扎曲普坦 10mg；2. 记录头痛日记，避免熬夜、饮酒等"
            "诱因；3. 若每月发作≥4次，考虑氟桂利嗪预防治疗；4. 1月后复诊。",
        ),
        (("G43.1", "有先兆的偏头痛"),), "偏头痛病史",
        onset_days=1825,
        follow_up=Visit(
            "偏头痛复诊", "头痛日记示近1月发作2次，服用利扎曲普坦后2小时内缓解。",
            "神经系统查体未见异常。", "", "偏头痛（有先兆）",
            "继续按需急性期治疗，规律作息；如发作频繁及时复诊。",
        ),
    ),
    "lumbar-disc": Case(
        "orthopaedics", "doctor6",
        Visit(
            "腰痛伴右下肢放射痛1月",
            "患者1月前弯腰搬重物后出现腰痛，继而出现右臀部、大腿后外侧至小腿外侧放射痛，"
            "咳嗽时加重，无大小便功能障碍。",
            "腰椎生理曲度变直，L4/5棘突旁压痛并向右下肢放射。右侧直腿抬高试验40°阳性，加强试验"
            "阳性。右足背伸肌力4级，右小腿外侧皮肤感觉减退。",
            "腰椎MRI：L4/5椎间盘向右后方突出，压迫右侧L5神经根。",
            "腰椎间盘突出症（L4/5）",
            "1. 卧床休息为主，避免弯腰负重；2. 塞来昔布 200mg 每日1次，甲钴胺 0.5mg 每日3次；"
            "3. 理疗及腰背肌功能锻炼；4. 保守治疗6-12周无效或出现马尾症状考虑手术。",
        ),
        (("M51.2", "腰椎间盘突出"),), "腰椎间盘突出症病史",
        onset_days=30,
        follow_up=Visit(
            "腰椎间盘突出症复诊",
            "经卧床休息、药物及理疗6周，腰痛明显缓解，右下肢放射痛减轻，仍有小腿外侧麻木。",
            "右侧直腿抬高试验70°阳性，右足背伸肌力5级。", "", "腰椎间盘突出症（L4/5）",
            "继续康复锻炼，逐步恢复日常活动；避免久坐及弯腰搬重物；症状反复时复诊。",
        ),
    ),
    "knee-osteoarthritis": Case(
        "orthopaedics", "doctor6",
        Visit(
            "双膝关节疼痛3年，加重1月",
            "患者3年来上下楼梯及久行后双膝关节疼痛，休息后缓解，晨僵少于30分钟。1月前症状加重，"
            "蹲起困难。",
            "双膝关节无明显红肿，内侧关节间隙压痛，活动时可闻及骨摩擦音，浮髌试验阴性，"
            "活动度轻度受限。",
            "双膝关节X线：内侧关节间隙变窄，髁间棘变尖，边缘骨赘形成（K-L分级II级）。",
            "双膝骨关节炎",
            "1. 控制体重，减少上下楼梯、爬山及深蹲；2. 股四头肌等长收缩锻炼；3. 双氯芬酸二乙胺"
            "乳胶剂外用，疼痛明显时口服塞来昔布 200mg 每日1次；4. 1-3月后复诊。",
        ),
        (("M17.0", "原发性双侧膝关节病"),), "双膝骨关节炎病史",
        onset_days=1095,
        follow_up=Visit(
            "膝骨关节炎复诊", "坚持股四头肌锻炼，疼痛较前减轻，可步行约1公里。",
            "双膝内侧关节间隙轻压痛。", "", "双膝骨关节炎",
            "继续功能锻炼；疼痛反复时可考虑关节腔注射玻璃酸钠。",
        ),
    ),
    "gallstones": Case(
        "general-surgery", "doctor7",
        Visit(
            "反复右上腹痛1年，再发3天",
            "患者1年来进食油腻食物后反复右上腹胀痛，可放射至右肩背部，持续1-2小时可自行缓解。"
            "3天前再次发作，门诊超声示胆囊结石，为行手术收入院。",
            "皮肤巩膜无黄染。腹软，右上腹轻压痛，墨菲征弱阳性，无反跳痛。",
            "腹部超声：胆囊壁增厚毛糙，囊内多发强回声伴声影，最大约1.2cm。",
            "胆囊结石伴慢性胆囊炎",
            "1. 完善术前检查，入院第2天全麻下行腹腔镜胆囊切除术；2. 术后低脂饮食，观察腹痛及"
            "引流情况；3. 术后第3天出院，1周后门诊复查。",
        ),
        (("K80.1", "胆囊结石伴有其他胆囊炎"),), "胆囊结石，腹腔镜胆囊切除术后",
        onset_days=365,
        vitals=Vitals(temp=(36.8, 37.5)),
        labs=(("6690-2", 7.0, 10.5),),
        kind=_INPATIENT, stay_days=4, chronic=False,
    ),
    "appendicitis": Case(
        "general-surgery", "doctor7",
        Visit(
            "转移性右下腹痛12小时（急诊收入）",
            "患者12小时前出现脐周隐痛，伴恶心、呕吐1次，6小时前疼痛转移并固定于右下腹。急诊诊断"
            "急性阑尾炎收入院，当晚在全麻下行腹腔镜阑尾切除术。",
            "右下腹麦氏点压痛、反跳痛（+），肌紧张（+）。",
            "术中见阑尾充血水肿，表面脓苔附着。病理：急性化脓性阑尾炎。",
            "急性化脓性阑尾炎",
            "1. 术后头孢呋辛+甲硝唑抗感染3天；2. 早期下床活动，肛门排气后逐步恢复饮食；"
            "3. 术后第3天出院，7天后门诊拆线。",
        ),
        (("K35.8", "急性阑尾炎"),), "阑尾切除术后",
        onset_days=1,
        vitals=Vitals(temp=(37.8, 38.6), hr=(92, 106)),
        labs=(("6690-2", 13.0, 17.5),),
        kind=_INPATIENT, stay_days=4, chronic=False,
        via_emergency=Visit(
            "转移性右下腹痛12小时",
            "患者12小时前出现脐周隐痛，伴恶心、呕吐1次，6小时前疼痛转移并固定于右下腹，呈持续性。",
            "右下腹麦氏点压痛、反跳痛（+），肌紧张（+）。",
            "腹部超声：阑尾增粗，直径约9mm，周围少量渗出。", "急性阑尾炎",
            "禁食，补液，头孢呋辛+甲硝唑抗感染；普外科会诊后急诊手术。",
        ),
    ),
    "fibroid": Case(
        "gynaecology", "doctor11",
        Visit(
            "月经量增多半年",
            "患者半年来月经量较前增多约1倍，经期延长至8-9天，伴轻度头晕、乏力，无痛经加重，"
            "无异常阴道流血。",
            "妇科检查：子宫增大如孕8周大小，质硬，表面凸凹不平，无压痛；双附件区未触及异常。",
            "经阴道超声：子宫前壁肌壁间低回声结节，大小约4.5cm×4.0cm。",
            "子宫平滑肌瘤（肌壁间）；轻度贫血",
            "1. 琥珀酸亚铁 0.1g 每日3次纠正贫血；2. 3个月后复查超声及血常规；3. 如肌瘤增大或贫血"
            "加重，考虑腹腔镜子宫肌瘤剔除术。",
        ),
        (("D25.1", "子宫壁内平滑肌瘤"), ("D50.0", "慢性失血性缺铁性贫血")), "子宫肌瘤病史",
        onset_days=180,
        labs=(("718-7", 92, 105),),
        female_only=True,
        follow_up=Visit(
            "子宫肌瘤复查",
            "补铁治疗3月，头晕乏力改善，月经量仍偏多。复查超声肌瘤大小约4.7cm×4.1cm。",
            "子宫增大如孕8周大小，无压痛。", "", "子宫平滑肌瘤（肌壁间）",
            "继续补铁；与患者沟通手术方案，择期行腹腔镜子宫肌瘤剔除术。",
        ),
    ),
    "bronchitis": Case(
        "paediatric-medicine", "doctor9",
        Visit(
            "咳嗽4天，发热1天",
            "患儿4天前受凉后出现咳嗽，初为干咳，后有痰不易咳出，1天前出现发热，最高38.6℃，"
            "无喘息、气促，精神食欲稍差。",
            "咽部充血，双侧扁桃体I度肿大。双肺呼吸音粗，可闻及散在干啰音，未闻及湿啰音。心率齐。",
            "胸片：双肺纹理增粗。",
            "急性支气管炎",
            "1. 氨溴索口服溶液按体重给药，每日2次；2. 体温≥38.5℃时口服布洛芬混悬液退热；"
            "3. 多饮水，注意休息；4. 如出现气促、精神差、持续高热及时复诊。",
        ),
        (("J20.9", "急性支气管炎"),), "急性支气管炎，已治愈",
        onset_days=4,
        vitals=replace(NORMAL_CHILD, temp=(37.8, 38.6), hr=(108, 126), rr=(24, 30)),
        labs=(("6690-2", 8.0, 11.5),),
        chronic=False, child=True,
    ),
    "upper-respiratory": Case(
        "paediatric-medicine", "doctor9",
        Visit(
            "发热、流涕2天",
            "患儿2天前出现发热，最高38.9℃，伴流涕、鼻塞、轻咳，无呕吐、腹泻，无抽搐。",
            "精神可，咽部充血，双侧扁桃体II度肿大，未见脓性分泌物。双肺呼吸音清。心率齐。",
            "C反应蛋白 6mg/L。",
            "急性上呼吸道感染",
            "1. 体温≥38.5℃时口服对乙酰氨基酚退热；2. 生理盐水洗鼻；3. 多饮水；"
            "4. 发热超过3天或精神差及时复诊。",
        ),
        (("J06.9", "急性上呼吸道感染"),), "急性上呼吸道感染，已治愈",
        onset_days=2,
        vitals=replace(NORMAL_CHILD, temp=(38.0, 38.9), hr=(110, 130), rr=(22, 28)),
        chronic=False, child=True,
    ),
    "gastroenteritis": Case(
        "emergency", "doctor10",
        Visit(
            "腹泻、呕吐8小时",
            "患者8小时前进食路边摊烧烤后出现腹痛、腹泻，排黄色水样便6次，伴呕吐3次，无脓血便，"
            "低热，自觉乏力、口干。",
            "皮肤弹性稍差。腹软，脐周轻压痛，无反跳痛，肠鸣音活跃，约8次/分。",
            "大便常规：白细胞0-2/HP，隐血阴性。",
            "急性胃肠炎；轻度脱水",
            "1. 静脉补液（乳酸林格液1000mL）；2. 口服补液盐III，蒙脱石散 3g 每日3次；"
            "3. 清淡饮食；4. 如出现血便、持续高热或尿少及时复诊。",
        ),
        (("A09.9", "胃肠炎"),), "急性胃肠炎，已治愈",
        onset_days=1,
        vitals=Vitals(sbp=(102, 116), dbp=(62, 72), hr=(96, 110), temp=(37.4, 38.0)),
        labs=(("6690-2", 9.0, 12.0), ("2160-0", 70, 105)),
        kind=EncounterKind.EMERGENCY, chronic=False,
    ),
}

ALLERGIES: dict[str, tuple[str, str, str, str]] = {
    # key: (substance, category, criticality, reaction)
    "penicillin": ("青霉素", "medication", "high", "皮疹、胸闷、呼吸困难"),
    "sulfonamide": ("磺胺类药物", "medication", "low", "全身皮疹伴瘙痒"),
    "cephalosporin": ("头孢类抗生素", "medication", "low", "皮疹"),
    "contrast": ("碘造影剂", "medication", "high", "注射后出现荨麻疹、喉头水肿"),
    "seafood": ("海鲜（虾、蟹）", "food", "low", "荨麻疹"),
    "peanut": ("花生", "food", "high", "口唇肿胀、呼吸困难"),
    "pollen": ("花粉", "environment", "low", "喷嚏、流涕、喘息加重"),
    "dust-mite": ("尘螨", "environment", "low", "喷嚏、鼻痒"),
}

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

# --- Seeding ----------------------------------------------------------------------------------

MAX_ENCOUNTERS = 4
EMERGENCY_STAGE, FIRST, FOLLOW_UP = "emergency", "first", "follow-up"
CLINIC_HOURS = (8, 9, 10, 11, 14, 15, 16)
EMERGENCY_DOCTOR = "doctor10"
SEEDER = Actor(user=None, user_agent="system")


def _save_valid(obj: Model) -> None:
    """``full_clean()`` and insert. Foreign keys are not looked up again: they point at rows this
    seeding has just loaded or created, and each check would cost a query."""
    obj.full_clean(exclude=[f.name for f in obj._meta.concrete_fields if f.is_relation])
    obj.save()


def _get_or_create(model: type[Model], lookup: dict, defaults: dict) -> tuple[Model, bool]:
    """``get_or_create`` that validates a new row before inserting it."""
    obj = model.objects.filter(**lookup).first()
    if obj is not None:
        return obj, False
    obj = model(**lookup, **defaults)
    _save_valid(obj)
    return obj, True


def seed_departments() -> dict[str, int]:
    """The two-level department tree: divisions (内科) and their departments (心血管内科)."""
    created = 0
    for code, name, name_en, children in DEPARTMENTS:
        division, new = _get_or_create(
            Department, {"code": code}, {"name": name, "name_en": name_en}
        )
        created += new
        for child_code, child_name, child_name_en in children:
            _, new = _get_or_create(
                Department, {"code": child_code},
                {"name": child_name, "name_en": child_name_en, "parent": division},
            )
            created += new
    return {"departments": created}


def seed_staff() -> dict[str, int]:
    """The demo logins (see ``demo_logins``) and the doctors' and nurses' practitioner profiles.

    The password is set only when a user is created, so a changed demo password survives a rerun.
    """
    departments = {d.code: d for d in Department.objects.filter(code__in=DEPARTMENT_NAMES)}
    password_hash = ""
    users = practitioners = 0
    for spec in DEMO_USERS:
        user = User.objects.filter(username=spec.username).first()
        if user is None:
            # Hashing is slow on purpose; one hash serves every demo user, whose shared password
            # is printed anyway.
            password_hash = password_hash or make_password(DEMO_PASSWORD)
            user = User(
                username=spec.username, role=spec.role, full_name=spec.full_name,
                department=departments.get(spec.department), password=password_hash,
                is_staff=spec.role == Role.ADMIN, is_superuser=spec.role == Role.ADMIN,
            )
            _save_valid(user)
            users += 1
        if spec.title:
            _, new = _get_or_create(Practitioner, {"user": user}, {
                "title": spec.title, "specialty": spec.specialty, "bio": spec.bio,
                "department": departments[spec.department],
            })
            practitioners += new
    return {"users": users, "practitioners": practitioners}


@dataclass
class _Hospital:
    """What the chart generator looks up, loaded once."""

    now: datetime
    departments: dict[str, Department]
    users: dict[str, User]
    nurses: dict[str, User]  # department code -> the nurse who charts vital signs there
    observations: list[Observation] = field(default_factory=list)

    @classmethod
    def load(cls) -> "_Hospital":
        users = {u.username: u for u in User.objects.filter(username__in=DEMO_USERS_BY_NAME)}
        nurses = {
            u.department: users[u.username] for u in DEMO_USERS
            if u.role == Role.NURSE and u.username in users
        }
        departments = {d.code: d for d in Department.objects.filter(code__in=DEPARTMENT_NAMES)}
        return cls(timezone.now(), departments, users, nurses)


def seed_patients() -> dict[str, int]:
    """About fifty patients with 1-4 encounters each, conditions, allergies, vital signs, lab
    values and open episodes for those still in hospital; and the patient login's own record and
    the child it manages. A patient that exists already (by MRN) is left as it is."""
    hospital = _Hospital.load()
    counts: Counter[str] = Counter()
    for index, spec in enumerate(PATIENTS):
        mrn = _mrn(index)
        if Patient.objects.filter(mrn=mrn).exists():
            continue
        rng = random.Random(f"aimass-demo:{mrn}")  # str seeds are stable across processes
        patient = _patient_create(spec, mrn, rng)
        counts["patients"] += 1
        _chart_create(hospital, patient, spec, rng, counts)
    Observation.objects.bulk_create(hospital.observations, batch_size=500)
    counts["observations"] = len(hospital.observations)
    counts["dependants"] = _dependants_link()
    keys = ("patients", "encounters", "episodes", "conditions", "allergies", "observations")
    return {key: counts[key] for key in (*keys, "dependants")}


def _mrn(index: int) -> str:
    return f"P{FIRST_DEMO_MRN + index}"


def _patient_create(spec: PatientSpec, mrn: str, rng: random.Random) -> Patient:
    born = date.fromisoformat(spec.born)
    male = spec.sex == "M"
    contact_name, contact_phone = _emergency_contact(spec, born, rng)
    patient = Patient(
        mrn=mrn, name=spec.name, sex=Sex.MALE if male else Sex.FEMALE, birth_date=born,
        # A young child has no phone of their own; the family's number is the one to call.
        phone=contact_phone if _age(born) < 14 else _mobile(rng),
        id_number=_id_number(spec.area, born, male, rng),
        address=_address(spec.area, rng),
        emergency_contact_name=contact_name, emergency_contact_phone=contact_phone,
        account=User.objects.filter(username=spec.account).first() if spec.account else None,
    )
    _save_valid(patient)
    audit_record(
        actor=SEEDER, action=AuditAction.IMPORT, obj=patient, username="seed_demo",
        details={"source": "seed_demo"},
    )
    return patient


def _age(born: date, on: date | None = None) -> int:
    on = on or timezone.localdate()
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _id_number(area: str, born: date, male: bool, rng: random.Random) -> str:
    # GB 11643: the last digit of the three-digit order code is odd for men, even for women.
    order = rng.randint(1, 99) * 10 + rng.choice((1, 3, 5, 7, 9) if male else (0, 2, 4, 6, 8))
    first17 = f"{area}{born:%Y%m%d}{order:03d}"
    return first17 + id_card_check_char(first17)


def _mobile(rng: random.Random) -> str:
    return f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"


def _address(area: str, rng: random.Random) -> str:
    district, streets = ADDRESSES[area]
    return (
        f"{district}{rng.choice(streets)}{rng.randint(1, 300)}号"
        f"{rng.randint(1, 20)}栋{rng.randint(1, 18)}0{rng.randint(1, 4)}室"
    )


def _emergency_contact(spec: PatientSpec, born: date, rng: random.Random) -> tuple[str, str]:
    if spec.guardian:
        guardian = Patient.objects.filter(account__username=spec.guardian).first()
        if guardian is not None:
            return guardian.name, guardian.phone
    if spec.area.startswith("9"):
        partner = FOREIGN_GIVEN["F" if spec.sex == "M" else "M"]
        return f"{rng.choice(partner)} {spec.name.split()[-1]}", _mobile(rng)
    age = _age(born)
    if age < 18:  # a parent: children usually carry the father's surname
        name = spec.name[0] + rng.choice(GIVEN_MALE)
    elif age >= 65:  # a grown-up son or daughter
        name = rng.choice(SURNAMES) + rng.choice(GIVEN_MALE + GIVEN_FEMALE)
    else:  # the spouse; Chinese women keep their own surname
        name = rng.choice(SURNAMES) + rng.choice(GIVEN_FEMALE if spec.sex == "M" else GIVEN_MALE)
    return name, _mobile(rng)


def _dependants_link() -> int:
    created = 0
    for index, spec in enumerate(PATIENTS):
        manager = User.objects.filter(username=spec.guardian).first() if spec.guardian else None
        patient = Patient.objects.filter(mrn=_mrn(index)).first()
        if manager is not None and patient is not None:
            _, new = _get_or_create(
                Dependant, {"manager": manager, "patient": patient},
                {"relationship": Relationship.CHILD},
            )
            created += new
    return created


# --- Charts -----------------------------------------------------------------------------------


def _chart_create(
    hospital: _Hospital, patient: Patient, spec: PatientSpec, rng: random.Random,
    counts: Counter,
) -> None:
    # A patient still in hospital has that admission as their latest visit.
    cases = sorted((CASES[key] for key in spec.cases.split()), key=lambda c: c.still_admitted)
    _check_fits(spec, patient, cases)
    visits = _plan_visits(cases, rng)
    times = _schedule(visits, rng, hospital.now)
    allergies = [ALLERGIES[key] for key in spec.allergies.split()]
    allergy_history = (
        "；".join(f"{s}过敏（{r}）" for s, _c, _k, r in allergies) or "否认药物、食物过敏史"
    )
    first_doctor = hospital.users[cases[0].doctor]
    for substance, category, criticality, reaction in allergies:
        _get_or_create(AllergyIntolerance, {"patient": patient, "substance": substance}, {
            "category": category, "criticality": criticality, "reaction": reaction,
            "recorded_by": first_doctor,
        })
        counts["allergies"] += 1
    seen: list[Case] = []
    for number, ((case, stage), at) in enumerate(zip(visits, times, strict=True)):
        notes = [c.past_note for c in seen if c is not case]
        if notes:
            past = "；".join(notes) + "。"
        elif _age(patient.birth_date) < 14:
            past = "既往体健，按时预防接种。"
        else:
            past = "既往体健，否认高血压、糖尿病等慢性病史，否认手术外伤史。"
        encounter = _encounter_create(
            hospital, patient, case, stage, at, past, allergy_history + "。", rng, counts
        )
        if number == 0:
            _body_size_record(hospital, encounter, rng)
        if case not in seen:
            seen.append(case)


def _check_fits(spec: PatientSpec, patient: Patient, cases: list[Case]) -> None:
    # A typo in the specs must fail loudly rather than seed a man with fibroids.
    child = _age(patient.birth_date) < 14
    for case in cases:
        if case.child != child or (case.female_only and spec.sex != "F"):
            raise ValueError(f"demo patient {spec.name}: a case does not fit their age or sex")
    if sum(2 if c.via_emergency else 1 for c in cases) > MAX_ENCOUNTERS:
        raise ValueError(f"demo patient {spec.name}: more than {MAX_ENCOUNTERS} encounters")


def _plan_visits(cases: list[Case], rng: random.Random) -> list[tuple[Case, str]]:
    """Each case's first visit (after an emergency visit when it came that way), and up to two
    follow-ups of a chronic case while the patient's total stays within four."""
    needed = [2 if case.via_emergency else 1 for case in cases]
    visits: list[tuple[Case, str]] = []
    for i, case in enumerate(cases):
        if case.via_emergency:
            visits.append((case, EMERGENCY_STAGE))
        visits.append((case, FIRST))
        if case.follow_up:
            room = MAX_ENCOUNTERS - len(visits) - sum(needed[i + 1:])
            visits += [(case, FOLLOW_UP)] * max(0, min(rng.randint(0, 2), room))
    return visits


def _schedule(visits: list[tuple[Case, str]], rng: random.Random, now: datetime) -> list[datetime]:
    """When each visit happened: the last one recent (an open admission 2-5 days ago), earlier
    ones one to four months apart, an emergency visit a few hours before its admission."""
    today = timezone.localdate(now)
    times: list[datetime] = []
    for case, stage in reversed(visits):
        if stage == EMERGENCY_STAGE:
            times.append(times[-1] - timedelta(minutes=rng.randint(120, 240)))
            continue
        if not times:
            if case.still_admitted:
                days_ago = rng.randint(2, 5)
            else:  # a closed admission must have ended before today
                days_ago = rng.randint(case.stay_days + 3, 60)
            day = today - timedelta(days=days_ago)
        else:
            day = timezone.localtime(times[-1]).date() - timedelta(days=rng.randint(28, 120))
        urgent = stage == FIRST and (case.via_emergency or case.kind == EncounterKind.EMERGENCY)
        hour = rng.randint(0, 23) if urgent else rng.choice(CLINIC_HOURS)
        times.append(_local(day, hour, rng.randrange(0, 60, 5)))
    return times[::-1]


def _local(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=timezone.get_current_timezone())


def _encounter_create(
    hospital: _Hospital, patient: Patient, case: Case, stage: str, at: datetime, past: str,
    allergy_history: str, rng: random.Random, counts: Counter,
) -> Encounter:
    if stage == EMERGENCY_STAGE:
        visit, kind, department, doctor = (
            case.via_emergency, EncounterKind.EMERGENCY, "emergency", EMERGENCY_DOCTOR
        )
    elif stage == FIRST:
        visit, kind, department, doctor = case.first, case.kind, case.department, case.doctor
    else:
        visit, kind, department, doctor = (
            case.follow_up, EncounterKind.OUTPATIENT, case.department, case.doctor
        )
    labs = _lab_draws(case, stage, rng)
    lab_text = "；".join(
        f"{LAB_TEXT[code][0]} {value}{LAB_TEXT[code][1]}" for code, value in labs
    )
    doctor_user = hospital.users[doctor]
    encounter = Encounter(
        patient=patient, kind=kind, started_at=at, department=hospital.departments[department],
        practitioner=doctor_user, created_by=doctor_user,
        chief_complaint=visit.chief_complaint, present_illness=visit.present_illness,
        past_history=past, allergy_history=allergy_history, physical_exam=visit.physical_exam,
        lab_summary="。".join(text for text in (lab_text, visit.findings.rstrip("。")) if text)
        + ("。" if lab_text or visit.findings else ""),
        diagnosis=visit.diagnosis, treatment_plan=visit.treatment_plan,
    )
    _save_valid(encounter)
    counts["encounters"] += 1
    nurse = hospital.nurses.get(department, doctor_user)
    if kind == EncounterKind.INPATIENT:
        end = _admission_record(hospital, encounter, case, rng, counts)
        _vital_series(hospital, encounter, case, nurse, end, rng)
    else:
        progress = rng.uniform(0.6, 0.9) if stage == FOLLOW_UP else 0.0
        _vitals_record(hospital, encounter, case, nurse, at + timedelta(minutes=5), progress, rng)
    for code, value in labs:
        _observation_add(hospital, encounter, code, value, at + timedelta(minutes=90), doctor_user)
    if stage == FIRST:
        _conditions_record(encounter, case, counts)
    return encounter


def _admission_record(
    hospital: _Hospital, encounter: Encounter, case: Case, rng: random.Random, counts: Counter
) -> datetime:
    """The admission's episode of care; returns when the stay ends (now, if it has not)."""
    admitted = encounter.started_at
    discharged = None
    if not case.still_admitted:
        discharge_day = timezone.localtime(admitted).date() + timedelta(days=case.stay_days)
        discharged = _local(discharge_day, 10, rng.randrange(0, 60, 5))
    episode = EpisodeOfCare(
        patient=encounter.patient, department=encounter.department, opened_at=admitted,
        status=EpisodeOfCare.Status.CLOSED if discharged else EpisodeOfCare.Status.OPEN,
        closed_at=discharged,
    )
    _save_valid(episode)
    counts["episodes"] += 1
    return discharged or hospital.now


def _vital_series(
    hospital: _Hospital, encounter: Encounter, case: Case, nurse: User, end: datetime,
    rng: random.Random,
) -> None:
    """Twice-daily readings through the stay, returning to normal as treatment works."""
    start = encounter.started_at + timedelta(minutes=30)
    stay = timedelta(days=case.stay_days)
    at = start
    while at < end:
        _vitals_record(hospital, encounter, case, nurse, at, min(1.0, (at - start) / stay), rng)
        at += timedelta(hours=12)


def _vitals_record(
    hospital: _Hospital, encounter: Encounter, case: Case, by: User, at: datetime,
    progress: float, rng: random.Random,
) -> None:
    normal = NORMAL_CHILD if case.child else NORMAL_ADULT
    codes = VITAL_CODES
    if encounter.kind != EncounterKind.OUTPATIENT or case.department == "respiratory":
        codes += EXTRA_VITAL_CODES
    for name, code in codes:
        value = _draw(
            rng, getattr(case.vitals, name), getattr(normal, name), progress, DECIMALS.get(code, 0)
        )
        _observation_add(hospital, encounter, code, value, at, by)


def _body_size_record(hospital: _Hospital, encounter: Encounter, rng: random.Random) -> None:
    patient = encounter.patient
    age = _age(patient.birth_date, timezone.localtime(encounter.started_at).date())
    if age < 14:
        height, weight = 76 + 6.5 * age + rng.uniform(-3, 3), 9 + 2.2 * age + rng.uniform(-1.5, 1.5)
    elif patient.sex == Sex.MALE:
        height, weight = rng.uniform(163, 180), rng.uniform(58, 85)
    else:
        height, weight = rng.uniform(152, 168), rng.uniform(46, 70)
    by = hospital.nurses.get(encounter.department.code, encounter.practitioner)
    at = encounter.started_at + timedelta(minutes=5)
    _observation_add(hospital, encounter, "8302-2", Decimal(f"{height:.0f}"), at, by)
    _observation_add(hospital, encounter, "29463-7", Decimal(f"{weight:.1f}"), at, by)


def _lab_draws(case: Case, stage: str, rng: random.Random) -> list[tuple[str, Decimal]]:
    if stage == EMERGENCY_STAGE:
        return []
    labs = list(case.labs)
    if stage == FIRST and case.kind == EncounterKind.INPATIENT:
        ordered = {code for code, _low, _high in labs}
        labs += [lab for lab in ADMISSION_LABS if lab[0] not in ordered]
    progress = rng.uniform(0.5, 0.9) if stage == FOLLOW_UP else 0.0
    return [
        (code, _draw(rng, (low, high), NORMAL_LABS[code], progress, DECIMALS.get(code, 0)))
        for code, low, high in labs
    ]


def _draw(
    rng: random.Random, first: tuple[float, float], normal: tuple[float, float],
    progress: float, decimals: int,
) -> Decimal:
    """A value from the ``first`` range moved ``progress`` of the way to the ``normal`` one."""
    low = first[0] + (normal[0] - first[0]) * progress
    high = first[1] + (normal[1] - first[1]) * progress
    return Decimal(f"{rng.uniform(low, high):.{decimals}f}")


def _observation_add(
    hospital: _Hospital, encounter: Encounter, code: str, value: Decimal, at: datetime, by: User
) -> None:
    known = OBSERVATION_CODES[code]
    # The same plausibility check as observation_create: a bad demo range is a bug here.
    if not known.low <= value <= known.high:
        raise ValueError(f"demo {code} value {value} outside {known.low}-{known.high}")
    hospital.observations.append(Observation(
        patient=encounter.patient, encounter=encounter, category=known.category, code=code,
        display=str(known.display), value=value, unit=known.unit, effective_at=at,
        recorded_by=by,
    ))


def _conditions_record(encounter: Encounter, case: Case, counts: Counter) -> None:
    onset = timezone.localtime(encounter.started_at).date() - timedelta(days=case.onset_days)
    resolved = not case.chronic and not case.still_admitted
    for code, text in case.conditions:
        condition = Condition(
            patient=encounter.patient, encounter=encounter, icd10_code=code, text=text,
            clinical_status=(
                Condition.ClinicalStatus.RESOLVED if resolved else Condition.ClinicalStatus.ACTIVE
            ),
            onset_date=onset, recorded_by=encounter.practitioner,
        )
        _save_valid(condition)
        counts["conditions"] += 1


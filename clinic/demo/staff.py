"""Departments and staff of the demo hospital, and their logins."""

from dataclasses import dataclass
from typing import NamedTuple

from ..models import (
    PractitionerTitle,
    Role,
)

DEMO_PASSWORD = "aimass-demo"

# --- Departments ------------------------------------------------------------------------------

DEPARTMENTS: tuple[tuple[str, str, str, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "internal",
        "内科",
        "Internal Medicine",
        (
            ("cardiology", "心血管内科", "Cardiology"),
            ("respiratory", "呼吸内科", "Respiratory Medicine"),
            ("gastroenterology", "消化内科", "Gastroenterology"),
            ("neurology", "神经内科", "Neurology"),
            ("endocrinology", "内分泌科", "Endocrinology"),
        ),
    ),
    (
        "surgery",
        "外科",
        "Surgery",
        (
            ("general-surgery", "普通外科", "General Surgery"),
            ("orthopaedics", "骨科", "Orthopaedics"),
            ("neurosurgery", "神经外科", "Neurosurgery"),
            ("thoracic-surgery", "胸外科", "Thoracic Surgery"),
        ),
    ),
    (
        "paediatrics",
        "儿科",
        "Paediatrics",
        (("paediatric-medicine", "小儿内科", "Paediatric Medicine"),),
    ),
    (
        "obstetrics-gynaecology",
        "妇产科",
        "Obstetrics and Gynaecology",
        (
            ("gynaecology", "妇科", "Gynaecology"),
            ("obstetrics", "产科", "Obstetrics"),
        ),
    ),
    (
        "medical-technology",
        "医技科室",
        "Medical Technology",
        (
            ("radiology", "医学影像科", "Radiology"),
            ("laboratory", "检验科", "Clinical Laboratory"),
        ),
    ),
    (
        "emergency-medicine",
        "急诊医学科",
        "Emergency Medicine",
        (("emergency", "急诊科", "Emergency Department"),),
    ),
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
        "doctor",
        Role.DOCTOR,
        "王建国",
        "cardiology",
        _T.CHIEF,
        "冠心病介入诊疗、高血压、心力衰竭",
        "主任医师，医学博士，从事心血管内科临床工作二十余年，擅长冠心病介入诊疗及高血压、"
        "心力衰竭的规范化管理。",
    ),
    DemoUser(
        "doctor2",
        Role.DOCTOR,
        "李慧敏",
        "respiratory",
        _T.ASSOCIATE_CHIEF,
        "慢性阻塞性肺疾病、肺部感染、支气管哮喘",
        "副主任医师，从事呼吸内科工作十五年，擅长慢阻肺、哮喘的长期管理及重症肺炎救治。",
    ),
    DemoUser(
        "doctor3",
        Role.DOCTOR,
        "张伟",
        "gastroenterology",
        _T.ATTENDING,
        "消化内镜、幽门螺杆菌感染、胃食管反流病",
        "主治医师，医学硕士，擅长胃肠镜检查及内镜下治疗，幽门螺杆菌感染的规范化根除。",
    ),
    DemoUser(
        "doctor4",
        Role.DOCTOR,
        "刘芳",
        "endocrinology",
        _T.ASSOCIATE_CHIEF,
        "糖尿病、甲状腺疾病",
        "副主任医师，从事内分泌代谢病临床工作十余年，擅长糖尿病综合管理及甲状腺疾病诊治。",
    ),
    DemoUser(
        "doctor5",
        Role.DOCTOR,
        "陈志远",
        "neurology",
        _T.ATTENDING,
        "脑血管病、头痛、癫痫",
        "主治医师，卒中中心骨干医师，擅长急性缺血性脑卒中的救治与二级预防及头痛诊疗。",
    ),
    DemoUser(
        "doctor6",
        Role.DOCTOR,
        "杨帆",
        "orthopaedics",
        _T.ASSOCIATE_CHIEF,
        "脊柱外科、关节外科",
        "副主任医师，擅长腰椎间盘突出症、颈椎病的微创治疗及膝骨关节炎的阶梯化治疗。",
    ),
    DemoUser(
        "doctor7",
        Role.DOCTOR,
        "赵永刚",
        "general-surgery",
        _T.CHIEF,
        "肝胆胰外科、腹腔镜微创手术",
        "主任医师，从事普通外科工作二十五年，完成腹腔镜胆囊、阑尾等微创手术数千例。",
    ),
    DemoUser(
        "doctor8",
        Role.DOCTOR,
        "周静",
        "radiology",
        _T.ASSOCIATE_CHIEF,
        "胸部及心血管CT、MRI诊断",
        "副主任医师，从事医学影像诊断工作十五年，擅长胸部及心血管CT、MRI诊断，"
        "参与肺结节人工智能辅助诊断研究。",
    ),
    DemoUser(
        "doctor9",
        Role.DOCTOR,
        "孙丽华",
        "paediatric-medicine",
        _T.ATTENDING,
        "小儿呼吸系统疾病、儿童哮喘",
        "主治医师，擅长儿童呼吸道感染、儿童哮喘及小儿常见病的诊治。",
    ),
    DemoUser(
        "doctor10",
        Role.DOCTOR,
        "吴磊",
        "emergency",
        _T.RESIDENT,
        "急危重症",
        "住院医师，急诊科轮转，参与胸痛、卒中、创伤等急危重症的首诊与抢救。",
    ),
    DemoUser(
        "doctor11",
        Role.DOCTOR,
        "郑雅琴",
        "gynaecology",
        _T.CHIEF,
        "子宫肌瘤、妇科腹腔镜手术",
        "主任医师，从事妇产科工作近三十年，擅长子宫肌瘤、卵巢囊肿的微创手术治疗。",
    ),
    DemoUser(
        "nurse",
        Role.NURSE,
        "陈静",
        "cardiology",
        _T.HEAD_NURSE,
        "心血管专科护理",
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
            str(Role(u.role).label),
            u.username,
            DEMO_PASSWORD,
            u.full_name,
            DEPARTMENT_NAMES.get(u.department, ""),
        )
        for u in DEMO_USERS
    ]
